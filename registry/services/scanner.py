"""Scanner registrations (Harbor's pluggable scanners): create, change, delete, ping, the
default, and which scanner a project uses."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from registry.auth.principal import Principal
from registry.db import scanners
from registry.db.pool import Executor
from registry.rbac import ProjectRef
from registry.scanners import client
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    NotPermitted,
    ResourceExists,
    ScannerInvalid,
    ScannerUnknown,
    ScannerUnreachable,
)
from registry.services.secrets import SecretBox

AUTH_TYPES = ("", "Basic", "Bearer", "X-ScannerAdapter-API-Key")
_CREDENTIAL_PURPOSE = "scanner-credential"
EMBEDDED_NAME = "Berth"


def _text(body: dict[str, Any], name: str, default: str | None, limit: int = 1024) -> str:
    value = body.get(name, default)
    if value is None:
        raise ScannerInvalid(f"{name} is required")
    if not isinstance(value, str) or len(value) > limit:
        raise ScannerInvalid(f"{name} must be a string of at most {limit} characters")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise ScannerInvalid(f"{name} must be true or false")
    return value


def registration_values(
    body: dict[str, Any], current: asyncpg.Record | None = None
) -> dict[str, Any]:
    """The stored fields of a registration from Harbor's request body (``current`` fills
    what an update leaves out); the credential stays in the clear here."""

    def old(name: str, fallback: Any) -> Any:
        return current[name] if current is not None else fallback

    name = _text(body, "name", old("name", None), 255).strip()
    if not name:
        raise ScannerInvalid("name is required")
    url = _text(body, "url", old("url", None)).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScannerInvalid("url must be an http:// or https:// URL")
    auth = _text(body, "auth", old("auth", ""), 64)
    if auth not in AUTH_TYPES:
        raise ScannerInvalid(f"auth must be one of {', '.join(a or '(none)' for a in AUTH_TYPES)}")
    return {
        "name": name,
        "description": _text(body, "description", old("description", ""), 4096),
        "url": url,
        "auth": auth,
        # None on an update that leaves it out: keep the stored (sealed) one.
        "access_credential": _text(body, "access_credential", "")
        if "access_credential" in body
        else (None if current is not None else ""),
        "skip_cert_verify": _flag(body, "skip_certVerify", old("skip_cert_verify", False)),
        "use_internal_addr": _flag(body, "use_internal_addr", old("use_internal_addr", False)),
        "disabled": _flag(body, "disabled", old("disabled", False)),
    }


def endpoint_of(b: Backends, row: asyncpg.Record) -> client.Endpoint:
    credential = row["access_credential"]
    if credential:
        credential = b.secrets.reveal(credential, _CREDENTIAL_PURPOSE)
    return client.Endpoint(row["url"], row["auth"], credential, row["skip_cert_verify"])


async def list_registrations(b: Backends) -> list[asyncpg.Record]:
    return await scanners.list_all(b.db)


async def get_registration(b: Backends, registration_uuid: str) -> asyncpg.Record:
    row = await scanners.get(b.db, registration_uuid)
    if row is None:
        raise ScannerUnknown(f"scanner registration {registration_uuid} not found")
    return row


async def create_registration(b: Backends, actor: Principal, body: dict[str, Any]) -> str:
    values = registration_values(body)
    await _check_unique(b, values, None)
    values["access_credential"] = b.secrets.seal_if_clear(
        values["access_credential"] or "", _CREDENTIAL_PURPOSE
    )
    registration_uuid = str(uuid_module.uuid4())
    try:
        await scanners.create(b.db, registration_uuid, values)
    except asyncpg.UniqueViolationError:
        raise ResourceExists("a scanner with this name or URL is registered already") from None
    await b.audit.record(AuditEvent("create", "scanner", values["name"], actor.name))
    return registration_uuid


async def _check_unique(b: Backends, values: dict[str, Any], own_uuid: str | None) -> None:
    for row in await scanners.list_all(b.db):
        if row["uuid"] == own_uuid:
            continue
        if row["name"] == values["name"]:
            raise ResourceExists(f"a scanner named {values['name']} is registered already")
        if row["url"] == values["url"]:
            raise ResourceExists(f"a scanner at {values['url']} is registered already")


async def update_registration(
    b: Backends, actor: Principal, registration_uuid: str, body: dict[str, Any]
) -> None:
    current = await get_registration(b, registration_uuid)
    if current["immutable"]:
        raise NotPermitted("the built-in scanner cannot be changed")
    values = registration_values(body, current)
    await _check_unique(b, values, registration_uuid)
    if values["access_credential"] is None:
        values["access_credential"] = current["access_credential"]
    else:
        values["access_credential"] = b.secrets.seal_if_clear(
            values["access_credential"], _CREDENTIAL_PURPOSE
        )
    await scanners.update(b.db, registration_uuid, values)
    await b.audit.record(AuditEvent("update", "scanner", values["name"], actor.name))


async def delete_registration(
    b: Backends, actor: Principal, registration_uuid: str
) -> asyncpg.Record:
    current = await get_registration(b, registration_uuid)
    if current["immutable"]:
        raise NotPermitted("the built-in scanner cannot be deleted")
    await scanners.delete(b.db, registration_uuid)
    await b.audit.record(AuditEvent("delete", "scanner", current["name"], actor.name))
    return current


async def set_default(b: Backends, actor: Principal, registration_uuid: str) -> None:
    current = await get_registration(b, registration_uuid)
    if current["disabled"]:
        raise ScannerInvalid("a disabled scanner cannot be the default")
    await scanners.set_default(b.db, registration_uuid)
    await b.audit.record(AuditEvent("update", "scanner", current["name"], actor.name))


async def ping(body: dict[str, Any]) -> dict[str, Any]:
    """The metadata of the adapter a (not yet registered) registration names."""
    values = registration_values({"name": "ping", **body})
    endpoint = client.Endpoint(
        values["url"],
        values["auth"],
        values["access_credential"] or "",
        values["skip_cert_verify"],
    )
    return await _metadata(endpoint)


async def _metadata(endpoint: client.Endpoint) -> dict[str, Any]:
    try:
        return await client.metadata(endpoint)
    except client.ScannerError as exc:
        raise ScannerUnreachable(str(exc)) from None


async def metadata(b: Backends, registration_uuid: str) -> dict[str, Any]:
    row = await get_registration(b, registration_uuid)
    return await _metadata(endpoint_of(b, row))


async def health(b: Backends, row: asyncpg.Record) -> tuple[str, dict[str, Any] | None]:
    """("healthy", metadata) or ("unhealthy", None)."""
    try:
        return "healthy", await client.metadata(endpoint_of(b, row))
    except client.ScannerError:
        return "unhealthy", None


async def scanner_of_project(b: Backends, project: ProjectRef) -> asyncpg.Record | None:
    """The project's own scanner when it chose one that is enabled, else the default."""
    chosen = await scanners.of_project(b.db, project.id)
    if chosen is not None and not chosen["disabled"]:
        return chosen
    found = await scanners.get_default(b.db)
    return found if found is not None and not found["disabled"] else None


async def set_project_scanner(
    b: Backends, actor: Principal, project: ProjectRef, registration_uuid: str
) -> None:
    row = await get_registration(b, registration_uuid)
    await scanners.set_for_project(b.db, project.id, row["id"])
    await b.audit.record(
        AuditEvent(
            "update", "project_scanner", f"{project.name}:{row['name']}", actor.name, project.id
        )
    )


async def candidates(b: Backends) -> list[asyncpg.Record]:
    return [r for r in await scanners.list_all(b.db) if not r["disabled"]]


async def register_embedded(db: Executor, url: str, box: SecretBox, api_key: str) -> str:
    """Register (or point at its new address) the scanner ``berth serve`` runs, and make it the
    default when there is none."""
    row = await scanners.get_by_name(db, EMBEDDED_NAME)
    values = {
        "name": EMBEDDED_NAME,
        "description": "The scanner adapter Berth runs itself (OSV database, air-gapped)",
        "url": url,
        "auth": "Bearer",
        "access_credential": box.seal(api_key, _CREDENTIAL_PURPOSE),
        "skip_cert_verify": False,
        "use_internal_addr": True,
        "disabled": False,
    }
    if row is None:
        registration_uuid = str(uuid_module.uuid4())
        await scanners.create(db, registration_uuid, values, immutable=True)
    else:
        registration_uuid = row["uuid"]
        await scanners.update(db, registration_uuid, values)
    if await scanners.get_default(db) is None:
        await scanners.set_default(db, registration_uuid)
    return registration_uuid
