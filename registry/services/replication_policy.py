"""Replication policies (Harbor's ``/replication/policies``): validation, storage, their
schedule, and which resources their filters select."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import jobs as jobs_db
from registry.db import replication as replication_db
from registry.db import replication_registries as registries_db
from registry.query import ListQuery
from registry.replication.adapter import RemoteArtifact
from registry.replication.copy import is_accessory_tag
from registry.services import cron, read_cache
from registry.services import jobs as job_service
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ResourceExists, ResourceUnknown
from registry.services.immutability import PatternInvalid, check_pattern, doublestar_match

EXECUTION_KIND = "REPLICATION"
TRIGGERS = ("manual", "scheduled", "event_based")
FILTER_TYPES = ("name", "tag", "label", "resource")
DECORATIONS = ("matches", "excludes")


def schedule_owner(policy_id: int) -> str:
    return f"replication:{policy_id}"


def _unknown(policy_id: int) -> ResourceUnknown:
    return ResourceUnknown(f"replication policy {policy_id} not found")


def _registry_id(value: Any, name: str) -> int | None:
    """Harbor names the local side with null or ``{"id": 0}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be an object with an id")
    registry_id = value.get("id", 0)
    if not isinstance(registry_id, int) or isinstance(registry_id, bool) or registry_id < 0:
        raise InvalidRequest(f"{name}.id must be a non-negative integer")
    return registry_id or None


def _filters(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest("filters must be a list")
    checked = []
    for item in value:
        if not isinstance(item, dict) or item.get("type") not in FILTER_TYPES:
            raise InvalidRequest(f"a filter's type is one of {', '.join(FILTER_TYPES)}")
        kind, raw = item["type"], item.get("value")
        decoration = item.get("decoration") or "matches"
        if decoration not in DECORATIONS:
            raise InvalidRequest(f"a filter's decoration is one of {', '.join(DECORATIONS)}")
        if kind == "label":
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise InvalidRequest("a label filter's value is a list of label names")
        elif not isinstance(raw, str):
            raise InvalidRequest(f"a {kind} filter's value is a string")
        if kind in ("name", "tag") and isinstance(raw, str):
            try:
                check_pattern(raw)
            except PatternInvalid as exc:
                raise InvalidRequest(str(exc)) from None
        if kind == "resource" and raw not in ("image", "artifact"):
            raise InvalidRequest("a resource filter's value is image or artifact")
        if kind in ("name", "resource") and decoration != "matches":
            raise InvalidRequest("only tag and label filters take a decoration")
        checked.append({"type": kind, "value": raw, "decoration": decoration})
    return checked


def _trigger(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "manual", "trigger_settings": {"cron": ""}}
    if not isinstance(value, dict) or value.get("type") not in TRIGGERS:
        raise InvalidRequest(f"trigger.type is one of {', '.join(TRIGGERS)}")
    settings = value.get("trigger_settings") or {}
    expression = settings.get("cron", "") if isinstance(settings, dict) else ""
    if value["type"] == "scheduled":
        if not isinstance(expression, str) or not expression:
            raise InvalidRequest("a scheduled trigger needs trigger_settings.cron")
        try:
            cron.parse(expression)
        except cron.CronInvalid as exc:
            raise InvalidRequest(f"trigger_settings.cron: {exc}") from None
    return {"type": value["type"], "trigger_settings": {"cron": expression or ""}}


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be a boolean")
    return value


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**31 - 1:
        raise InvalidRequest(f"{name} must be an integer")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name) or ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


async def _fields(b: Backends, body: dict[str, Any]) -> dict[str, Any]:
    name = _text(body, "name").strip()
    if not name or len(name) > 255:
        raise InvalidRequest("name is required (at most 255 characters)")
    src = _registry_id(body.get("src_registry"), "src_registry")
    dest = _registry_id(body.get("dest_registry"), "dest_registry")
    if (src is None) == (dest is None):
        raise InvalidRequest(
            "one side of a policy is this registry and the other a remote registry"
        )
    for registry_id in (src, dest):
        if registry_id is not None and await registries_db.get(b.db, registry_id) is None:
            raise InvalidRequest(f"registry {registry_id} does not exist")
    trigger = _trigger(body.get("trigger"))
    namespace = _text(body, "dest_namespace").strip("/")
    return {
        "name": name,
        "description": _text(body, "description"),
        "src_registry_id": src,
        "dest_registry_id": dest,
        "dest_namespace": namespace,
        "dest_namespace_replace_count": _int(body, "dest_namespace_replace_count", -1),
        "filters": _filters(body.get("filters")),
        "trigger": trigger,
        "replicate_deletion": _flag(body, "replicate_deletion", bool(body.get("deletion", False))),
        "override": _flag(body, "override", True),
        "enabled": _flag(body, "enabled", True),
        "speed": _int(body, "speed", -1),
        "copy_by_chunk": _flag(body, "copy_by_chunk", False),
        "single_active_replication": _flag(body, "single_active_replication", False),
    }


async def _sync_schedule(b: Backends, policy_id: int, fields: dict[str, Any]) -> None:
    trigger = fields["trigger"]
    if fields["enabled"] and trigger["type"] == "scheduled":
        await job_service.set_schedule(
            b,
            EXECUTION_KIND,
            schedule_owner(policy_id),
            "Custom",
            trigger["trigger_settings"]["cron"],
            {"policy_id": policy_id},
        )
    else:
        await jobs_db.delete_schedule(b.db, EXECUTION_KIND, schedule_owner(policy_id))


async def _audit(b: Backends, operation: str, name: str, actor: Principal) -> None:
    await b.audit.record(AuditEvent(operation, "replication_policy", name, actor.name, None))


async def get_policy(b: Backends, policy_id: int) -> asyncpg.Record:
    row = await replication_db.get_policy(b.db, policy_id)
    if row is None:
        raise _unknown(policy_id)
    return row


async def list_policies(b: Backends, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await replication_db.list_policies(b.db, query)


async def create_policy(b: Backends, actor: Principal, body: dict[str, Any]) -> int:
    fields = await _fields(b, body)
    policy_id = await replication_db.create_policy(b.db, fields, actor.name)
    if policy_id is None:
        raise ResourceExists(f"a replication policy named {fields['name']!r} exists")
    await _sync_schedule(b, policy_id, fields)
    # Every process remembers the push policies under its read-cache stamps.
    await read_cache.changed_everywhere(b.redis)
    await _audit(b, "create", fields["name"], actor)
    return policy_id


async def update_policy(
    b: Backends, actor: Principal, policy_id: int, body: dict[str, Any]
) -> None:
    await get_policy(b, policy_id)
    fields = await _fields(b, body)
    updated = await replication_db.update_policy(b.db, policy_id, fields)
    if updated is None:
        raise ResourceExists(f"a replication policy named {fields['name']!r} exists")
    if not updated:
        raise _unknown(policy_id)
    await _sync_schedule(b, policy_id, fields)
    # Every process remembers the push policies under its read-cache stamps.
    await read_cache.changed_everywhere(b.redis)
    await _audit(b, "update", fields["name"], actor)


async def delete_policy(b: Backends, actor: Principal, policy_id: int) -> None:
    current = await get_policy(b, policy_id)
    if await replication_db.active_execution_exists(b.db, policy_id):
        raise InvalidRequest("the policy has an execution in progress; stop it first")
    await jobs_db.delete_schedule(b.db, EXECUTION_KIND, schedule_owner(policy_id))
    if not await replication_db.delete_policy(b.db, policy_id):
        raise _unknown(policy_id)
    # Every process remembers the push policies under its read-cache stamps.
    await read_cache.changed_everywhere(b.redis)
    await _audit(b, "delete", current["name"], actor)


# --- what a policy selects ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """A policy's filters as matchers."""

    filters: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, policy: asyncpg.Record) -> Selection:
        return cls(tuple(policy["filters"] or ()))

    def repository(self, name: str) -> bool:
        return all(doublestar_match(f["value"], name) for f in self.filters if f["type"] == "name")

    def tags(self, tags: tuple[str, ...]) -> list[str]:
        """The tags the tag filters let through (accessory tags never: they go with their
        subject)."""
        kept = [t for t in tags if not is_accessory_tag(t)]
        for f in self.filters:
            if f["type"] == "tag":
                wanted = f["decoration"] == "matches"
                kept = [t for t in kept if doublestar_match(f["value"], t) == wanted]
        return kept

    def labels(self, labels: tuple[str, ...]) -> bool:
        for f in self.filters:
            if f["type"] != "label":
                continue
            present = [name in labels for name in f["value"]]
            if f["decoration"] == "matches" and not all(present):
                return False
            if f["decoration"] == "excludes" and any(present):
                return False
        return True

    def artifact(self, artifact: RemoteArtifact) -> list[str] | None:
        """The artifact's tags to replicate, or None when the artifact is not selected."""
        if not self.labels(artifact.labels):
            return None
        tags = self.tags(artifact.tags)
        return tags or None
