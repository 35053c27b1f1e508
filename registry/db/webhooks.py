"""Webhook policies, and their deliveries: ``jobs`` rows of kind WEBHOOK whose parameters name
the policy (``parameters->>'policy_id'``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from registry.db.paging import fetch_page
from registry.db.pool import Executor

KIND = "WEBHOOK"

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
    policy_id: int | None = await db.fetchval(
        """
        INSERT INTO webhook_policies
            (project_id, name, description, enabled, event_types, targets, creator)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (project_id, name) DO NOTHING
        RETURNING id
        """,
        project_id,
        name,
        description,
        enabled,
        event_types,
        targets,
        creator,
    )
    return policy_id


async def get(db: Executor, project_id: int, policy_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM webhook_policies WHERE project_id = $1 AND id = $2",  # noqa: S608 — constant columns
        project_id,
        policy_id,
    )


async def list_for_project(
    db: Executor, where: str, order_by: str, params: list[object], limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """Policies matching a WHERE clause built by the API's SqlFilter (values as params)."""
    from_where = f"FROM webhook_policies {where}"
    return await fetch_page(db, _COLUMNS, from_where, order_by, params, limit, offset)


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
    try:
        status: str = await db.execute(
            """
            UPDATE webhook_policies
            SET name = $3, description = $4, enabled = $5, event_types = $6, targets = $7,
                updated_at = now()
            WHERE project_id = $1 AND id = $2
            """,
            project_id,
            policy_id,
            name,
            description,
            enabled,
            event_types,
            targets,
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


async def delete(db: Executor, project_id: int, policy_id: int) -> bool:
    """Delete the policy; a trigger deletes its deliveries with it."""
    status: str = await db.execute(
        "DELETE FROM webhook_policies WHERE project_id = $1 AND id = $2", project_id, policy_id
    )
    return status == "DELETE 1"


async def list_deliveries(
    db: Executor,
    policy_id: int,
    conditions: list[str],
    order_by: str,
    params: list[object],
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """The policy's delivery jobs. ``conditions`` (from the API's SqlFilter) refer to
    ``params`` as $2, $3, …: $1 is the policy id."""
    where = " AND ".join([f"kind = '{KIND}'", "parameters->>'policy_id' = $1::text", *conditions])
    return await fetch_page(
        db,
        _JOB_COLUMNS,
        f"FROM jobs WHERE {where}",
        order_by,
        [str(policy_id), *params],
        limit,
        offset,
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
