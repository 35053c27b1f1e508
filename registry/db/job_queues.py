"""Job queues as Harbor's job service shows them: pending jobs per kind, paused kinds, and
the jobs running on each worker."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor, Pool

ALL = "all"


async def paused_types(db: Executor) -> set[str]:
    rows = await db.fetch("SELECT job_type FROM job_queue_pauses")
    return {str(r["job_type"]) for r in rows}


async def is_paused(db: Executor, kind: str) -> bool:
    paused: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM job_queue_pauses WHERE job_type = $1 OR job_type = $2)",
        kind,
        ALL,
    )
    return paused


async def pause(db: Executor, job_type: str) -> None:
    await db.execute(
        "INSERT INTO job_queue_pauses (job_type) VALUES ($1) ON CONFLICT DO NOTHING", job_type
    )


async def resume(db: Pool, job_type: str) -> list[int]:
    """Lift the pause (every pause, for 'all'); return the Pending top-level jobs that may now
    start, marked as sent (the caller sends them)."""
    async with db.acquire() as conn, conn.transaction():
        if job_type == ALL:
            await conn.execute("DELETE FROM job_queue_pauses")
        else:
            await conn.execute("DELETE FROM job_queue_pauses WHERE job_type = $1", job_type)
        rows = await conn.fetch(
            """
            UPDATE jobs SET enqueued_at = now()
            WHERE status = 'Pending' AND parent_id IS NULL AND NOT stop_requested
              AND ($1 = 'all' OR kind = $1)
              AND NOT EXISTS (SELECT 1 FROM job_queue_pauses q
                              WHERE q.job_type = jobs.kind OR q.job_type = 'all')
            RETURNING id
            """,
            job_type,
        )
    return [int(r["id"]) for r in rows]


async def stop_pending(db: Executor, job_type: str) -> int:
    """Stop every Pending top-level job of the kind (of every kind, for 'all')."""
    status: str = await db.execute(
        """
        UPDATE jobs SET stop_requested = TRUE, status = 'Stopped', ended_at = now(),
                        updated_at = now()
        WHERE status = 'Pending' AND parent_id IS NULL AND ($1 = 'all' OR kind = $1)
        """,
        job_type,
    )
    return int(status.rsplit(" ", 1)[1])


async def pending_by_kind(db: Executor) -> list[asyncpg.Record]:
    """(kind, count, oldest) of the Pending top-level jobs of each kind that has some."""
    return await db.fetch(
        """
        SELECT kind, count(*) AS count, min(created_at) AS oldest FROM jobs
        WHERE status = 'Pending' AND parent_id IS NULL
        GROUP BY kind ORDER BY kind
        """
    )


async def running(db: Executor) -> list[asyncpg.Record]:
    """Top-level jobs now running, with the worker (host:pid) that holds each."""
    return await db.fetch(
        """
        SELECT id, kind, worker, started_at, updated_at FROM jobs
        WHERE status = 'Running' AND parent_id IS NULL ORDER BY started_at, id
        """
    )


async def list_schedules(db: Executor, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    """Schedules that will start jobs (type None is no schedule), oldest first."""
    rows = await db.fetch(
        """
        SELECT id, kind, owner, cron, parameters, updated_at FROM schedules
        WHERE schedule_type <> 'None' ORDER BY id LIMIT $1 OFFSET $2
        """,
        limit,
        offset,
    )
    total: int = await db.fetchval("SELECT count(*) FROM schedules WHERE schedule_type <> 'None'")
    return rows, total
