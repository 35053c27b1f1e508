"""Replication policies, executions and tasks (a task's status is its job's)."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

_POLICY_COLUMNS = (
    "id, name, description, src_registry_id, dest_registry_id, dest_namespace, "
    "dest_namespace_replace_count, filters, trigger, replicate_deletion, override, enabled, "
    "speed, copy_by_chunk, single_active_replication, creator, created_at, updated_at"
)

POLICY_FIELDS = (
    "name",
    "description",
    "src_registry_id",
    "dest_registry_id",
    "dest_namespace",
    "dest_namespace_replace_count",
    "filters",
    "trigger",
    "replicate_deletion",
    "override",
    "enabled",
    "speed",
    "copy_by_chunk",
    "single_active_replication",
)

POLICY_LIST_COLUMNS: ColumnMap = {
    "id": Column("id", "bigint"),
    "name": Column("name"),
    "enabled": Column("enabled", "bool"),
    "creation_time": Column("created_at", "timestamptz"),
    "update_time": Column("updated_at", "timestamptz"),
}


async def create_policy(db: Executor, fields: dict[str, Any], creator: str) -> int | None:
    """The new policy's id, or None when the name is taken."""
    policy_id: int | None = await db.fetchval(
        """
        INSERT INTO replication_policies
            (name, description, src_registry_id, dest_registry_id, dest_namespace,
             dest_namespace_replace_count, filters, trigger, replicate_deletion, override,
             enabled, speed, copy_by_chunk, single_active_replication, creator)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """,
        *(fields[f] for f in POLICY_FIELDS),
        creator,
    )
    return policy_id


async def get_policy(db: Executor, policy_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_POLICY_COLUMNS} FROM replication_policies WHERE id = $1",  # noqa: S608 — constant columns
        policy_id,
    )


async def list_policies(db: Executor, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_POLICY_COLUMNS,
        source="FROM replication_policies",
        columns=POLICY_LIST_COLUMNS,
        query=query,
        default_order="id",
    )


async def enabled_policies(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_POLICY_COLUMNS} FROM replication_policies WHERE enabled ORDER BY id"  # noqa: S608 — constant columns
    )


async def update_policy(db: Executor, policy_id: int, fields: dict[str, Any]) -> bool | None:
    """True when updated, False when missing, None when the new name is taken."""
    try:
        status: str = await db.execute(
            """
            UPDATE replication_policies
            SET name = $2, description = $3, src_registry_id = $4, dest_registry_id = $5,
                dest_namespace = $6, dest_namespace_replace_count = $7, filters = $8,
                trigger = $9, replicate_deletion = $10, override = $11, enabled = $12,
                speed = $13, copy_by_chunk = $14, single_active_replication = $15,
                updated_at = now()
            WHERE id = $1
            """,
            policy_id,
            *(fields[f] for f in POLICY_FIELDS),
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


async def delete_policy(db: Executor, policy_id: int) -> bool:
    status: str = await db.execute("DELETE FROM replication_policies WHERE id = $1", policy_id)
    return status == "DELETE 1"


# --- executions --------------------------------------------------------------------------------

_EXECUTION_SELECT = """
    e.id, e.policy_id, e.trigger, e.status, e.status_text, e.job_id, e.listed, e.start_time,
    e.end_time,
    count(t.id) AS total,
    count(*) FILTER (WHERE j.status = 'Error') AS failed,
    count(*) FILTER (WHERE j.status = 'Success') AS succeed,
    count(*) FILTER (WHERE j.status IN ('Pending', 'Running')) AS in_progress,
    count(*) FILTER (WHERE j.status = 'Stopped') AS stopped,
    max(j.ended_at) AS last_task_end,
    (SELECT status FROM jobs WHERE id = e.job_id) AS listing_status
"""
_EXECUTION_SOURCE = """
    FROM replication_executions e
    LEFT JOIN replication_tasks t ON t.execution_id = e.id
    LEFT JOIN jobs j ON j.id = t.job_id
"""

EXECUTION_LIST_COLUMNS: ColumnMap = {
    "id": Column("e.id", "bigint"),
    "policy_id": Column("e.policy_id", "bigint"),
    "trigger": Column("e.trigger"),
    "status": Column("e.status"),
    "start_time": Column("e.start_time", "timestamptz"),
    "end_time": Column("e.end_time", "timestamptz"),
}


async def create_execution(db: Executor, policy_id: int, trigger: str) -> int:
    execution_id: int = await db.fetchval(
        "INSERT INTO replication_executions (policy_id, trigger) VALUES ($1, $2) RETURNING id",
        policy_id,
        trigger,
    )
    return execution_id


async def set_execution_job(db: Executor, execution_id: int, job_id: int) -> None:
    await db.execute(
        "UPDATE replication_executions SET job_id = $2 WHERE id = $1", execution_id, job_id
    )


async def get_execution(db: Executor, execution_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_EXECUTION_SELECT} {_EXECUTION_SOURCE} WHERE e.id = $1 GROUP BY e.id",
        execution_id,
    )


async def list_executions(
    db: Executor, query: ListQuery, scope: list[tuple[str, object]]
) -> tuple[list[asyncpg.Record], int]:
    rows, total = await list_rows(
        db,
        select="e.id",
        source="FROM replication_executions e",
        columns=EXECUTION_LIST_COLUMNS,
        query=query,
        default_order="e.id DESC",
        scope=scope,
    )
    ids = [r["id"] for r in rows]
    full = await db.fetch(
        f"SELECT {_EXECUTION_SELECT} {_EXECUTION_SOURCE} WHERE e.id = ANY($1::bigint[]) "
        "GROUP BY e.id",
        ids,
    )
    by_id = {r["id"]: r for r in full}
    return [by_id[i] for i in ids if i in by_id], total


async def active_execution_exists(db: Executor, policy_id: int) -> bool:
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM replication_executions "
        "WHERE policy_id = $1 AND status = 'InProgress')",
        policy_id,
    )
    return found


async def mark_listed(db: Executor, execution_id: int) -> None:
    await db.execute("UPDATE replication_executions SET listed = TRUE WHERE id = $1", execution_id)


async def finish_execution(
    db: Executor, execution_id: int, status: str, status_text: str = ""
) -> bool:
    """Record the final status once; True for the call that did (it sends the webhook)."""
    result: str = await db.execute(
        """
        UPDATE replication_executions SET status = $2, status_text = $3, end_time = now()
        WHERE id = $1 AND status = 'InProgress'
        """,
        execution_id,
        status,
        status_text,
    )
    return result == "UPDATE 1"


async def reopen_execution(db: Executor, execution_id: int) -> None:
    await db.execute(
        "UPDATE replication_executions SET status = 'InProgress', status_text = '', "
        "end_time = NULL WHERE id = $1",
        execution_id,
    )


# --- tasks -------------------------------------------------------------------------------------

_TASK_SELECT = """
    t.id, t.execution_id, t.job_id, t.operation, t.resource_type, t.src_resource,
    t.dst_resource, j.status, j.started_at, j.ended_at, j.attempts, j.parameters
"""


async def create_task(
    db: Executor,
    execution_id: int,
    job_id: int,
    operation: str,
    resource_type: str,
    src_resource: str,
    dst_resource: str,
) -> int:
    task_id: int = await db.fetchval(
        """
        INSERT INTO replication_tasks
            (execution_id, job_id, operation, resource_type, src_resource, dst_resource)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        """,
        execution_id,
        job_id,
        operation,
        resource_type,
        src_resource,
        dst_resource,
    )
    return task_id


async def list_tasks(
    db: Executor, execution_id: int, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await db.fetch(
        f"SELECT {_TASK_SELECT} FROM replication_tasks t LEFT JOIN jobs j ON j.id = t.job_id "  # noqa: S608 — constant SQL
        "WHERE t.execution_id = $1 ORDER BY t.id LIMIT $2 OFFSET $3",
        execution_id,
        limit,
        offset,
    )
    total: int = await db.fetchval(
        "SELECT count(*) FROM replication_tasks WHERE execution_id = $1", execution_id
    )
    return rows, total


async def get_task(db: Executor, execution_id: int, task_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_TASK_SELECT} FROM replication_tasks t LEFT JOIN jobs j ON j.id = t.job_id "  # noqa: S608 — constant SQL
        "WHERE t.execution_id = $1 AND t.id = $2",
        execution_id,
        task_id,
    )


async def task_of_job(db: Executor, job_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, execution_id FROM replication_tasks WHERE job_id = $1", job_id
    )


async def unfinished_job_ids(db: Executor, execution_id: int) -> list[int]:
    rows = await db.fetch(
        """
        SELECT j.id FROM replication_tasks t JOIN jobs j ON j.id = t.job_id
        WHERE t.execution_id = $1 AND j.status IN ('Pending', 'Running')
        UNION
        SELECT j.id FROM replication_executions e JOIN jobs j ON j.id = e.job_id
        WHERE e.id = $1 AND j.status IN ('Pending', 'Running')
        """,
        execution_id,
    )
    return [int(r["id"]) for r in rows]


async def reset_failed_tasks(db: Executor, execution_id: int) -> list[int]:
    """Failed (and stopped) task jobs back to Pending with fresh attempts; their ids."""
    rows = await db.fetch(
        """
        UPDATE jobs SET status = 'Pending', attempts = 0, stop_requested = FALSE,
               ended_at = NULL, enqueued_at = NULL, lease_until = NULL, updated_at = now(),
               log = log || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                     || E' [INFO] retried\n'
        WHERE id IN (SELECT job_id FROM replication_tasks WHERE execution_id = $1)
          AND status IN ('Error', 'Stopped')
        RETURNING id
        """,
        execution_id,
    )
    return [int(r["id"]) for r in rows]


async def tagged_artifacts(db: Executor, repository: str) -> list[asyncpg.Record]:
    """(artifact_id, digest, tag) of every tag in the repository."""
    return await db.fetch(
        """
        SELECT a.id AS artifact_id, a.digest, t.name AS tag
        FROM tags t JOIN artifacts a ON a.id = t.artifact_id
        JOIN repositories r ON r.id = t.repository_id
        WHERE r.name = $1 ORDER BY a.id, t.name
        """,
        repository,
    )


async def event_policies(db: Executor, *, local_source: bool) -> list[asyncpg.Record]:
    """Enabled event-based policies whose source is this registry (``local_source``) or a
    remote one."""
    return await db.fetch(
        f"SELECT {_POLICY_COLUMNS} FROM replication_policies "  # noqa: S608 — constant columns
        "WHERE enabled AND trigger->>'type' = 'event_based' "
        "AND (src_registry_id IS NULL) = $1 ORDER BY id",
        local_source,
    )
