"""Remote registries (Harbor's ``/registries``): their records, credentials sealed at rest,
health from a ping, and the adapter that reaches each."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from registry.auth.principal import Principal
from registry.db import replication_registries as registries
from registry.query import ListQuery
from registry.replication.adapter import Adapter, AdapterError
from registry.replication.client import BASIC, OAUTH, Credential
from registry.replication.types import (
    TYPES,
    UnknownRegistryType,
    adapter_for,
    info_of,
    pattern_of,
)
from registry.services import jobs as job_service
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ResourceExists, ResourceUnknown

# What each sealed value is for (bound into its ciphertext): names, not secrets.
SECRET_PURPOSE = "replication registry access secret"  # noqa: S105
WEBHOOK_SECRET_PURPOSE = "replication registry webhook secret"  # noqa: S105
CREDENTIAL_TYPES = ("basic", "oauth", "secret")
PING_TIMEOUT_SECONDS = 15.0
HEALTHY, UNHEALTHY = "healthy", "unhealthy"
# Every registry's status is refreshed by a scheduled job, set up with the first registry.
HEALTH_KIND = "REGISTRY_HEALTH"
HEALTH_OWNER = "system"
HEALTH_CRON = "0 */5 * * * *"


def _unknown(registry_id: int) -> ResourceUnknown:
    return ResourceUnknown(f"registry {registry_id} not found")


def _text(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest("url must be an http:// or https:// address")
    return url.rstrip("/")


def _fields(body: dict[str, Any], current: asyncpg.Record | None) -> dict[str, Any]:
    """The columns a create (``current`` None) or update body asks for. Harbor's create body
    nests the credential (``credential: {type, access_key, access_secret}``), its update body
    flattens it (``credential_type``, ``access_key``, ``access_secret``); both are taken."""
    old: dict[str, Any] = dict(current) if current is not None else {}
    credential = body.get("credential")
    if credential is not None and not isinstance(credential, dict):
        raise InvalidRequest("credential must be an object")
    flat = {
        "credential_type": (credential or {}).get("type", body.get("credential_type")),
        "access_key": (credential or {}).get("access_key", body.get("access_key")),
        "access_secret": (credential or {}).get("access_secret", body.get("access_secret")),
    }
    fields = {
        "name": _text(body, "name", old.get("name", "")).strip(),
        "description": _text(body, "description", old.get("description", "")),
        "type": _text(body, "type", old.get("type", "")),
        "url": _check_url(_text(body, "url", old.get("url", ""))),
        "credential_type": _text(flat, "credential_type", old.get("credential_type", "basic"))
        or "basic",
        "access_key": _text(flat, "access_key", old.get("access_key", "")),
        # A secret left out keeps the stored one (it is never shown, so never sent back).
        "access_secret": flat["access_secret"],
        "insecure": body.get("insecure", old.get("insecure", False)),
        "webhook_secret": body.get("webhook_secret"),
    }
    if not fields["name"] or len(fields["name"]) > 255:
        raise InvalidRequest("name is required (at most 255 characters)")
    if fields["type"] not in TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(TYPES)}")
    if fields["credential_type"] not in CREDENTIAL_TYPES:
        raise InvalidRequest(f"credential type must be one of {', '.join(CREDENTIAL_TYPES)}")
    if not isinstance(fields["insecure"], bool):
        raise InvalidRequest("insecure must be a boolean")
    for name in ("access_secret", "webhook_secret"):
        if fields[name] is not None and not isinstance(fields[name], str):
            raise InvalidRequest(f"{name} must be a string")
    return fields


def _sealed(b: Backends, fields: dict[str, Any], current: asyncpg.Record | None) -> dict[str, Any]:
    sealed = dict(fields)
    for name, purpose in (
        ("access_secret", SECRET_PURPOSE),
        ("webhook_secret", WEBHOOK_SECRET_PURPOSE),
    ):
        value = fields[name]
        if value is None:
            sealed[name] = current[name] if current is not None else ""
        else:
            sealed[name] = b.secrets.seal(value, purpose) if value else ""
    return sealed


async def _audit(b: Backends, operation: str, name: str, actor: Principal) -> None:
    await b.audit.record(AuditEvent(operation, "registry", name, actor.name, None))


async def get_registry(b: Backends, registry_id: int) -> asyncpg.Record:
    row = await registries.get(b.db, registry_id)
    if row is None:
        raise _unknown(registry_id)
    return row


async def list_registries(b: Backends, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await registries.list_registries(b.db, query)


async def create_registry(b: Backends, actor: Principal, body: dict[str, Any]) -> int:
    fields = _sealed(b, _fields(body, None), None)
    registry_id = await registries.create(b.db, fields)
    if registry_id is None:
        raise ResourceExists(f"a registry named {fields['name']!r} exists")
    if await job_service.get_schedule(b, HEALTH_KIND, HEALTH_OWNER) is None:
        await job_service.set_schedule(b, HEALTH_KIND, HEALTH_OWNER, "Custom", HEALTH_CRON, {})
    await _audit(b, "create", fields["name"], actor)
    return registry_id


async def update_registry(
    b: Backends, actor: Principal, registry_id: int, body: dict[str, Any]
) -> None:
    current = await get_registry(b, registry_id)
    fields = _sealed(b, _fields(body, current), current)
    updated = await registries.update(b.db, registry_id, fields)
    if updated is None:
        raise ResourceExists(f"a registry named {fields['name']!r} exists")
    if not updated:
        raise _unknown(registry_id)
    await _audit(b, "update", fields["name"], actor)


async def delete_registry(b: Backends, actor: Principal, registry_id: int) -> None:
    current = await get_registry(b, registry_id)
    if await registries.in_use(b.db, registry_id):
        raise InvalidRequest(f"registry {current['name']} is used by a replication policy")
    if await registries.proxy_projects(b.db, registry_id):
        raise InvalidRequest(f"registry {current['name']} is cached by a proxy project")
    if not await registries.delete(b.db, registry_id):
        raise _unknown(registry_id)
    await _audit(b, "delete", current["name"], actor)


def _adapter(b: Backends, fields: dict[str, Any] | asyncpg.Record) -> Adapter:
    secret = b.secrets.reveal(fields["access_secret"] or "", SECRET_PURPOSE)
    kind = OAUTH if fields["credential_type"] == "oauth" else BASIC
    credential = Credential(fields["access_key"] or "", secret, kind)
    try:
        return adapter_for(fields["type"], fields["url"], credential, insecure=fields["insecure"])
    except UnknownRegistryType as exc:
        raise InvalidRequest(str(exc)) from None


def adapter_of(b: Backends, row: asyncpg.Record) -> Adapter:
    """The adapter that reaches a stored registry (its secret opened for the call only)."""
    return _adapter(b, row)


async def _reachable(adapter: Adapter) -> str | None:
    """None when the registry answers with the credentials, else why not."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            await adapter.ping()
    except TimeoutError:
        return f"no answer within {PING_TIMEOUT_SECONDS:.0f} s"
    except AdapterError as exc:
        return str(exc)
    finally:
        await adapter.close()
    return None


async def ping(b: Backends, body: dict[str, Any]) -> None:
    """Harbor's ``/registries/ping``: a stored registry by ``id`` (fields in the body
    override it, for an edit not saved yet) or a registry described by the body alone.
    Raises ``InvalidRequest`` saying why when it cannot be reached."""
    current = None
    if body.get("id") is not None:
        if not isinstance(body["id"], int) or isinstance(body["id"], bool):
            raise InvalidRequest("id must be an integer")
        current = await get_registry(b, body["id"])
    fields = _sealed(b, _fields(body, current), current)
    problem = await _reachable(_adapter(b, fields))
    if current is not None:
        await registries.set_status(b.db, current["id"], UNHEALTHY if problem else HEALTHY)
    if problem:
        raise InvalidRequest(f"failed to ping the registry: {problem}")


async def check_health(b: Backends, row: asyncpg.Record) -> str:
    """Ping a stored registry and record its status."""
    status = UNHEALTHY if await _reachable(adapter_of(b, row)) else HEALTHY
    await registries.set_status(b.db, row["id"], status)
    return status


async def check_all(b: Backends) -> dict[str, str]:
    """The scheduled health check: ping every registry, record and return each status."""
    rows = await registries.all_rows(b.db)
    statuses = await asyncio.gather(*(check_health(b, row) for row in rows))
    return {row["name"]: status for row, status in zip(rows, statuses, strict=True)}


async def registry_info(b: Backends, registry_id: int) -> dict[str, object]:
    row = await get_registry(b, registry_id)
    return info_of(row["type"]).as_json()


def adapter_types() -> list[str]:
    return list(TYPES)


def adapter_infos() -> dict[str, dict[str, object]]:
    """Harbor's ``/replication/adapterinfos``: how each type's endpoint and credential are
    entered."""
    return {name: {**pattern_of(name), **info_of(name).as_json()} for name in TYPES}


def webhook_secret_of(b: Backends, row: asyncpg.Record) -> str:
    return b.secrets.reveal(row["webhook_secret"] or "", WEBHOOK_SECRET_PURPOSE)


async def mark_status(b: Backends, registry_id: int, status: str) -> None:
    await registries.set_status(b.db, registry_id, status)
