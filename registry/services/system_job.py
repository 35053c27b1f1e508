"""System jobs an administrator runs or schedules: garbage collection and the audit purge."""

from __future__ import annotations

from typing import Any

from registry.auth.principal import Principal
from registry.services import jobs
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, NotPermitted

# The owner of system-wide schedules (projects own retention schedules).
OWNER = "system"


def _object(raw: object) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest("parameters must be an object")
    return raw


def gc_parameters(given: object) -> dict[str, Any]:
    """Garbage collection's parameters, checked, with Harbor's defaults filled in."""
    raw = _object(given)
    workers = raw.get("workers", 1)
    if not isinstance(workers, int) or not 1 <= workers <= 5:
        raise InvalidRequest("workers is a number from 1 to 5")
    return {
        "delete_untagged": bool(raw.get("delete_untagged", False)),
        "dry_run": bool(raw.get("dry_run", False)),
        "workers": workers,
    }


def purge_parameters(given: object) -> dict[str, Any]:
    """The audit purge's parameters, checked, with Harbor's defaults filled in."""
    raw = _object(given)
    hours = raw.get("audit_retention_hour", 24 * 30)
    if not isinstance(hours, int) or hours < 1:
        raise InvalidRequest("audit_retention_hour is a positive number of hours")
    operations = raw.get("include_operations", "create,delete,pull")
    if not isinstance(operations, str):
        raise InvalidRequest("include_operations is a comma-separated list")
    return {
        "audit_retention_hour": hours,
        "include_operations": operations,
        "dry_run": bool(raw.get("dry_run", False)),
    }


def _require_admin(actor: Principal) -> None:
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")


async def run_now(b: Backends, actor: Principal, kind: str, parameters: dict[str, Any]) -> int:
    _require_admin(actor)
    job_id = await jobs.submit(b, kind, parameters)
    await b.audit.record(AuditEvent("create", "job", f"{kind}:{job_id}", actor.name))
    return job_id


async def set_schedule(
    b: Backends,
    actor: Principal,
    kind: str,
    schedule_type: str,
    cron_text: str | None,
    parameters: dict[str, Any],
) -> None:
    _require_admin(actor)
    await jobs.set_schedule(b, kind, OWNER, schedule_type, cron_text, parameters)
    await b.audit.record(AuditEvent("update", "schedule", kind, actor.name))
