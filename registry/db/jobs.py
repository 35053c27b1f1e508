"""Job records and schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from registry.db.pool import Executor

_COLUMNS = (
    "id, kind, trigger, status, parameters, result, attempts, stop_requested, parent_id, "
    "created_at, started_at, ended_at, updated_at, enqueued_at, lease_until, worker"
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


async def claim(db: Executor, job_id: int, worker: str, lease_seconds: float) -> bool:
    """Take a queued job for ``worker``: a Pending one, or a Running one whose worker let its
    lease run out. False when it is finished, stopping, or held by a live worker — so a
    message delivered twice runs the job once."""
    status: str = await db.execute(
        """
        UPDATE jobs SET status = 'Running', started_at = COALESCE(started_at, now()),
                        attempts = attempts + 1, worker = $2,
                        lease_until = now() + make_interval(secs => $3), updated_at = now()
        WHERE id = $1 AND NOT stop_requested
          AND (status = 'Pending' OR (status = 'Running' AND lease_until < now()))
        """,
        job_id,
        worker,
        lease_seconds,
    )
    return status == "UPDATE 1"


async def renew_lease(db: Executor, job_id: int, worker: str, lease_seconds: float) -> bool:
    """Extend the running job's lease; False when the job is no longer ``worker``'s."""
    status: str = await db.execute(
        """
        UPDATE jobs SET lease_until = now() + make_interval(secs => $3)
        WHERE id = $1 AND status = 'Running' AND worker = $2
        """,
        job_id,
        worker,
        lease_seconds,
    )
    return status == "UPDATE 1"


async def mark_enqueued(db: Executor, job_id: int, delay_seconds: float = 0.0) -> None:
    """Record the hand-over to the broker (``delay_seconds``: when the broker releases it)."""
    await db.execute(
        "UPDATE jobs SET enqueued_at = now() + make_interval(secs => $2) WHERE id = $1",
        job_id,
        delay_seconds,
    )


async def take_undispatched(
    db: Executor, grace_seconds: float, stale_seconds: float, limit: int = 100
) -> list[int]:
    """Pending jobs to send to the broker again, marked as sent now: never sent and older than
    ``grace_seconds`` (their sender died or the broker was down), or sent more than
    ``stale_seconds`` ago and still unclaimed (the message was lost). Child rows (retention
    tasks) are run by their parent job and never queued."""
    rows = await db.fetch(
        """
        UPDATE jobs SET enqueued_at = now()
        WHERE id IN (
            SELECT id FROM jobs
            WHERE status = 'Pending' AND parent_id IS NULL AND NOT stop_requested
              -- A paused queue's jobs wait for its resume, which sends them.
              AND NOT EXISTS (SELECT 1 FROM job_queue_pauses q
                              WHERE q.job_type = jobs.kind OR q.job_type = 'all')
              AND ((enqueued_at IS NULL AND created_at < now() - make_interval(secs => $1))
                   OR enqueued_at < now() - make_interval(secs => $2))
            ORDER BY id LIMIT $3
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
        """,
        grace_seconds,
        stale_seconds,
        limit,
    )
    return [int(r["id"]) for r in rows]


async def forget_enqueue(db: Executor, job_ids: list[int]) -> None:
    """The broker did not take these after all: send them again at the next chance."""
    await db.execute(
        "UPDATE jobs SET enqueued_at = NULL WHERE id = ANY($1::bigint[]) AND status = 'Pending'",
        job_ids,
    )


async def release_expired_leases(db: Executor, default_max_attempts: int) -> list[asyncpg.Record]:
    """Running jobs whose worker stopped renewing their lease (it died): back to Pending for
    another attempt, or Error once they used up their attempts. Returns (id, kind, worker,
    status) of each, with the reason appended to its log."""
    return await db.fetch(
        """
        UPDATE jobs SET
            status = CASE WHEN attempts < COALESCE((parameters->>'max_attempts')::int, $1)
                          THEN 'Pending' ELSE 'Error' END,
            ended_at = CASE WHEN attempts < COALESCE((parameters->>'max_attempts')::int, $1)
                            THEN NULL ELSE now() END,
            enqueued_at = NULL,
            log = log || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                  || ' [ERROR] the worker running attempt ' || attempts || ' (' ||
                  COALESCE(worker, '?') || ') stopped answering; '
                  || CASE WHEN attempts < COALESCE((parameters->>'max_attempts')::int, $1)
                          THEN 'retrying' ELSE 'no attempts left' END || E'\n',
            updated_at = now()
        WHERE id IN (
            SELECT id FROM jobs
            WHERE status = 'Running' AND parent_id IS NULL AND lease_until < now()
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id, kind, worker, status
        """,
        default_max_attempts,
    )


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


async def set_pending(db: Executor, job_id: int, retry_in_seconds: float = 0.0) -> None:
    """Back to Pending between retries; the broker releases it again after the delay."""
    await db.execute(
        """
        UPDATE jobs SET status = 'Pending', lease_until = NULL, updated_at = now(),
                        enqueued_at = now() + make_interval(secs => $2)
        WHERE id = $1 AND status = 'Running'
        """,
        job_id,
        retry_in_seconds,
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
