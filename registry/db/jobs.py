"""Job records and schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from registry.db.pool import Executor

_COLUMNS = (
    "id, kind, trigger, status, parameters, result, attempts, stop_requested, parent_id, "
    "created_at, started_at, ended_at, updated_at"
)

FINISHED = ("Success", "Error", "Stopped")


async def create(
    db: Executor,
    kind: str,
    parameters: dict[str, Any],
    trigger: str = "MANUAL",
    parent_id: int | None = None,
) -> int:
    job_id: int = await db.fetchval(
        "INSERT INTO jobs (kind, trigger, parameters, parent_id) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        kind,
        trigger,
        parameters,
        parent_id,
    )
    return job_id


async def get(db: Executor, job_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM jobs WHERE id = $1",  # noqa: S608 — constant columns
        job_id,
    )


async def log_text(db: Executor, job_id: int) -> str | None:
    text: str | None = await db.fetchval("SELECT log FROM jobs WHERE id = $1", job_id)
    return text


async def start(db: Executor, job_id: int) -> bool:
    """Mark the job running; False when it is finished or asked to stop already."""
    status: str = await db.execute(
        """
        UPDATE jobs SET status = 'Running', started_at = COALESCE(started_at, now()),
                        attempts = attempts + 1, updated_at = now()
        WHERE id = $1 AND status IN ('Pending', 'Running') AND NOT stop_requested
        """,
        job_id,
    )
    return status == "UPDATE 1"


async def append_log(db: Executor, job_id: int, text: str) -> None:
    await db.execute(
        "UPDATE jobs SET log = log || $2, updated_at = now() WHERE id = $1", job_id, text
    )


async def finish(
    db: Executor, job_id: int, status: str, result: dict[str, Any] | None = None
) -> None:
    await db.execute(
        """
        UPDATE jobs SET status = $2, result = COALESCE($3, result), ended_at = now(),
                        updated_at = now()
        WHERE id = $1 AND status NOT IN ('Success', 'Error', 'Stopped')
        """,
        job_id,
        status,
        result,
    )


async def set_pending(db: Executor, job_id: int) -> None:
    """Back to Pending between retries."""
    await db.execute(
        "UPDATE jobs SET status = 'Pending', updated_at = now() "
        "WHERE id = $1 AND status = 'Running'",
        job_id,
    )


async def request_stop(db: Executor, job_id: int) -> bool:
    """Ask a job to stop; a job that has not started stops at once. False if finished."""
    status: str = await db.execute(
        """
        UPDATE jobs SET stop_requested = TRUE,
               status = CASE WHEN status = 'Pending' THEN 'Stopped' ELSE status END,
               ended_at = CASE WHEN status = 'Pending' THEN now() ELSE ended_at END,
               updated_at = now()
        WHERE (id = $1 OR parent_id = $1) AND status IN ('Pending', 'Running')
        """,
        job_id,
    )
    return status != "UPDATE 0"


async def stop_requested(db: Executor, job_id: int) -> bool:
    flag: bool | None = await db.fetchval("SELECT stop_requested FROM jobs WHERE id = $1", job_id)
    return bool(flag)


async def list_kind(
    db: Executor, kinds: list[str], limit: int, offset: int, parent_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    condition = "kind = ANY($1::text[]) AND ($2::bigint IS NULL OR parent_id = $2)"
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM jobs WHERE {condition} ORDER BY id DESC LIMIT $3 OFFSET $4",  # noqa: S608
        kinds,
        parent_id,
        limit,
        offset,
    )
    total: int = await db.fetchval(
        f"SELECT count(*) FROM jobs WHERE {condition}",  # noqa: S608 — constant SQL
        kinds,
        parent_id,
    )
    return rows, total


async def children(db: Executor, parent_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM jobs WHERE parent_id = $1 ORDER BY id",  # noqa: S608
        parent_id,
    )


async def get_schedule(db: Executor, kind: str, owner: str) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM schedules WHERE kind = $1 AND owner = $2", kind, owner)


async def put_schedule(
    db: Executor,
    kind: str,
    owner: str,
    schedule_type: str,
    cron: str,
    parameters: dict[str, Any],
    next_run_at: datetime | None,
) -> None:
    await db.execute(
        """
        INSERT INTO schedules (kind, owner, schedule_type, cron, parameters, next_run_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (kind, owner) DO UPDATE
            SET schedule_type = EXCLUDED.schedule_type, cron = EXCLUDED.cron,
                parameters = EXCLUDED.parameters, next_run_at = EXCLUDED.next_run_at,
                updated_at = now()
        """,
        kind,
        owner,
        schedule_type,
        cron,
        parameters,
        next_run_at,
    )


async def delete_schedule(db: Executor, kind: str, owner: str) -> None:
    await db.execute("DELETE FROM schedules WHERE kind = $1 AND owner = $2", kind, owner)


async def due_schedules(db: Executor) -> list[asyncpg.Record]:
    """Schedules whose time has come, locked so only one scheduler fires each."""
    return await db.fetch(
        """
        SELECT * FROM schedules
        WHERE next_run_at IS NOT NULL AND next_run_at <= now()
        FOR UPDATE SKIP LOCKED
        """
    )


async def advance_schedule(db: Executor, schedule_id: int, next_run_at: datetime | None) -> None:
    await db.execute(
        "UPDATE schedules SET last_run_at = now(), next_run_at = $2 WHERE id = $1",
        schedule_id,
        next_run_at,
    )
