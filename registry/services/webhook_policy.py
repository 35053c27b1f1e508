"""Managing a project's webhook policies and reading their deliveries (delivering is
:mod:`registry.services.webhook`). A target's ``auth_header`` is sealed before it is stored."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import jobs, webhooks
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    PolicyUnknown,
    ResourceExists,
    ResourceUnknown,
    WebhookPolicyInvalid,
)
from registry.services.webhook import seal_targets, validate_policy


def _fields(b: Backends, body: dict[str, Any], current: asyncpg.Record | None) -> dict[str, Any]:
    try:
        fields = validate_policy(body, dict(current) if current is not None else None)
    except WebhookPolicyInvalid as exc:
        raise InvalidRequest(exc.message) from None
    return {**fields, "targets": seal_targets(b.secrets, fields["targets"])}


def _name_taken(name: str) -> ResourceExists:
    return ResourceExists(f"the project already has a webhook policy named {name!r}")


async def _audit(
    b: Backends, operation: str, project: ProjectRef, name: str, actor: Principal
) -> None:
    await b.audit.record(
        AuditEvent(operation, "webhook_policy", f"{project.name}:{name}", actor.name, project.id)
    )


async def list_policies(
    b: Backends, project: ProjectRef, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await webhooks.list_for_project(b.db, project.id, query)


async def get_policy(b: Backends, project: ProjectRef, policy_id: int) -> asyncpg.Record:
    row = await webhooks.get(b.db, project.id, policy_id)
    if row is None:
        raise PolicyUnknown(policy_id)
    return row


async def create_policy(
    b: Backends, actor: Principal, project: ProjectRef, body: dict[str, Any]
) -> int:
    fields = _fields(b, body, None)
    policy_id = await webhooks.create(b.db, project.id, creator=actor.name, **fields)
    if policy_id is None:
        raise _name_taken(fields["name"])
    b.webhook_subscriptions.invalidate(project.id)
    await _audit(b, "create", project, fields["name"], actor)
    return policy_id


async def update_policy(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    current: asyncpg.Record,
    body: dict[str, Any],
) -> None:
    """``body`` replaces the policy; targets sent back without their auth header keep it."""
    fields = _fields(b, body, current)
    updated = await webhooks.update(b.db, project.id, current["id"], **fields)
    b.webhook_subscriptions.invalidate(project.id)
    if updated is None:
        raise _name_taken(fields["name"])
    if not updated:
        raise PolicyUnknown(current["id"])
    await _audit(b, "update", project, fields["name"], actor)


async def delete_policy(
    b: Backends, actor: Principal, project: ProjectRef, current: asyncpg.Record
) -> None:
    b.webhook_subscriptions.invalidate(project.id)
    if not await webhooks.delete(b.db, project.id, current["id"]):
        raise PolicyUnknown(current["id"])
    await _audit(b, "delete", project, current["name"], actor)


async def list_deliveries(
    b: Backends, policy: asyncpg.Record, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await webhooks.list_deliveries(b.db, policy["id"], query)


async def get_delivery(b: Backends, policy: asyncpg.Record, job_id: int) -> asyncpg.Record:
    row = await webhooks.get_delivery(b.db, policy["id"], job_id)
    if row is None:
        raise ResourceUnknown(f"execution {job_id} not found")
    return row


async def delivery_log(b: Backends, delivery: asyncpg.Record) -> str:
    return await jobs.log_text(b.db, delivery["id"]) or ""


async def last_triggers(b: Backends, project: ProjectRef) -> list[asyncpg.Record]:
    return await webhooks.last_triggers(b.db, project.id)
