"""Webhook policies, and their deliveries: ``jobs`` rows of kind WEBHOOK whose parameters name
the policy (``parameters->>'policy_id'``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from registry.db import per_project
from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

KIND = "WEBHOOK"

_TABLE = "webhook_policies"
_COLUMNS = (
    "id, project_id, name, description, enabled, event_types, targets, creator, "
    "created_at, updated_at"
)
_JOB_COLUMNS = (
    "id, kind, trigger, status, parameters, result, attempts, created_at, started_at, "
    "ended_at, updated_at"
)


async def create(
    db: Executor,
    project_id: int,
    *,
    name: str,
    description: str,
    enabled: bool,
    event_types: list[str],
    targets: list[dict[str, Any]],
    creator: str,
) -> int | None:
    """The new policy's id, or None when the project has a policy of that name."""
    return await per_project.insert(
        db,
        _TABLE,
        project_id,
        {
            "name": name,
            "description": description,
            "enabled": enabled,
            "event_types": event_types,
            "targets": targets,
            "creator": creator,
        },
    )


async def get(db: Executor, project_id: int, policy_id: int) -> asyncpg.Record | None:
    return await per_project.get(db, _TABLE, _COLUMNS, project_id, policy_id)


LIST_COLUMNS: ColumnMap = {
    "id": Column("id", "bigint"),
    "name": Column("name"),
    "enabled": Column("enabled", "bool"),
    "creator": Column("creator"),
    "creation_time": Column("created_at", "timestamptz"),
    "update_time": Column("updated_at", "timestamptz"),
}


async def list_for_project(
    db: Executor, project_id: int, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await per_project.list_in_project(db, _TABLE, _COLUMNS, LIST_COLUMNS, project_id, query)


async def subscribed(db: Executor, project_id: int, event_type: str) -> list[asyncpg.Record]:
    """The enabled policies of the project that want ``event_type``."""
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM webhook_policies "  # noqa: S608 — constant columns
        "WHERE project_id = $1 AND enabled AND $2 = ANY(event_types) ORDER BY id",
        project_id,
        event_type,
    )


async def update(
    db: Executor,
    project_id: int,
    policy_id: int,
    *,
    name: str,
    description: str,
    enabled: bool,
    event_types: list[str],
    targets: list[dict[str, Any]],
) -> bool | None:
    """True when updated, False when the project has no such policy, None when another policy
    of the project already has that name."""
    return await per_project.update(
        db,
        _TABLE,
        project_id,
        policy_id,
        {
            "name": name,
            "description": description,
            "enabled": enabled,
            "event_types": event_types,
            "targets": targets,
        },
    )


async def delete(db: Executor, project_id: int, policy_id: int) -> bool:
    """Delete the policy; a trigger deletes its deliveries with it."""
    return await per_project.delete(db, _TABLE, project_id, policy_id)


DELIVERY_COLUMNS: ColumnMap = {
    "id": Column("id", "bigint"),
    "status": Column("status"),
    "trigger": Column("trigger"),
    "event_type": Column("parameters->>'event_type'"),
    "start_time": Column("started_at", "timestamptz"),
    "end_time": Column("ended_at", "timestamptz"),
}


async def list_deliveries(
    db: Executor, policy_id: int, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """The policy's delivery jobs, newest first unless sorted otherwise."""
    return await list_rows(
        db,
        select=_JOB_COLUMNS,
        source="FROM jobs",
        columns=DELIVERY_COLUMNS,
        query=query,
        default_order="id DESC",
        scope=[(f"kind = '{KIND}' AND parameters->>'policy_id' = {{}}::text", str(policy_id))],
    )


async def get_delivery(db: Executor, policy_id: int, job_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_JOB_COLUMNS} FROM jobs "  # noqa: S608 — constant columns
        f"WHERE id = $1 AND kind = '{KIND}' AND parameters->>'policy_id' = $2::text",
        job_id,
        str(policy_id),
    )


async def last_triggers(db: Executor, project_id: int) -> list[asyncpg.Record]:
    """Per policy of the project and event type it subscribes to: when it last fired."""
    return await db.fetch(
        f"""
        SELECT p.name AS policy_name, p.enabled, p.created_at, e.event_type,
               (SELECT max(j.created_at) FROM jobs j
                WHERE j.kind = '{KIND}' AND j.parameters->>'policy_id' = p.id::text
                  AND j.parameters->>'event_type' = e.event_type) AS last_trigger_time
        FROM webhook_policies p CROSS JOIN LATERAL unnest(p.event_types) AS e (event_type)
        WHERE p.project_id = $1
        ORDER BY p.id, e.event_type
        """,  # noqa: S608 — constant SQL
        project_id,
    )


async def repository_created_at(db: Executor, name: str) -> datetime | None:
    created: datetime | None = await db.fetchval(
        "SELECT created_at FROM repositories WHERE name = $1", name
    )
    return created


async def subscribed_event_types(db: Executor, project_id: int) -> frozenset[str]:
    """Every event type some enabled policy of the project wants."""
    rows = await db.fetch(
        "SELECT DISTINCT unnest(event_types) AS event_type FROM webhook_policies "
        "WHERE project_id = $1 AND enabled",
        project_id,
    )
    return frozenset(r["event_type"] for r in rows)
