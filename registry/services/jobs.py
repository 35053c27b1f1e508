"""Starting, stopping and scheduling jobs from the API (and from events)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import asyncpg

from registry.db import jobs
from registry.query import ListQuery
from registry.services import cron
from registry.services.context import Backends
from registry.services.errors import (
    JobServiceUnavailable,
    ResourceUnknown,
    ScheduleInvalid,
)

# The first run and three retries, unless a job's parameters say otherwise.
MAX_ATTEMPTS_DEFAULT = 4


async def submit(
    b: Backends,
    kind: str,
    parameters: dict[str, Any],
    trigger: str = "MANUAL",
    parent_id: int | None = None,
) -> int:
    """Record a job and hand it to the workers (after the record is committed).

    Raises ``JobServiceUnavailable`` when the broker cannot take it; the job stays recorded
    (Pending) and the scheduler sends it once the broker is back.
    """
    job_id = await jobs.create(b.db, kind, parameters, trigger, parent_id)
    await dispatch(b, job_id)
    return job_id


async def dispatch(b: Backends, job_id: int) -> None:
    """Send a recorded job to the broker and note that it was sent."""
    await b.jobs.enqueue(job_id)
    await jobs.mark_enqueued(b.db, job_id)


async def redispatch(b: Backends, grace_seconds: float, stale_seconds: float) -> list[int]:
    """Send again what no worker received: jobs whose sender died or met a broker that was
    down, and messages lost on the way. A job delivered twice still runs once (claims are
    atomic), so sending again is always safe."""
    job_ids = await jobs.take_undispatched(b.db, grace_seconds, stale_seconds)
    sent: list[int] = []
    for index, job_id in enumerate(job_ids):
        try:
            await b.jobs.enqueue(job_id)
        except JobServiceUnavailable:
            await jobs.forget_enqueue(b.db, job_ids[index:])
            break
        sent.append(job_id)
    return sent


async def release_abandoned(b: Backends) -> list[int]:
    """Hand running jobs whose worker died to another worker (or fail them, with the reason in
    their log, once out of attempts)."""
    released = await jobs.release_expired_leases(b.db, MAX_ATTEMPTS_DEFAULT)
    retried = [int(r["id"]) for r in released if r["status"] == "Pending"]
    for job_id in retried:
        # Best effort: the next redispatch covers a broker that is down right now.
        with contextlib.suppress(JobServiceUnavailable):
            await dispatch(b, job_id)
    return [int(r["id"]) for r in released]


async def stop(b: Backends, job_id: int) -> bool:
    return await jobs.request_stop(b.db, job_id)


async def set_schedule(
    b: Backends,
    kind: str,
    owner: str,
    schedule_type: str,
    cron_text: str | None,
    parameters: dict[str, Any],
) -> None:
    """Create, change or (type None) remove the schedule that starts ``kind`` jobs."""
    try:
        expression = cron.expression_for(schedule_type, cron_text)
        next_run = cron.next_after(expression, datetime.now(UTC)) if expression else None
    except cron.CronInvalid as exc:
        raise ScheduleInvalid(str(exc)) from None
    if expression is None and schedule_type in ("None", ""):
        await jobs.put_schedule(b.db, kind, owner, "None", "", parameters, None)
        return
    if expression is None:
        raise ScheduleInvalid(f"{schedule_type} is not a schedule")
    await jobs.put_schedule(b.db, kind, owner, schedule_type, expression, parameters, next_run)


async def get_job(b: Backends, job_id: int, kind: str) -> asyncpg.Record:
    """The job, when it is of ``kind``."""
    row = await jobs.get(b.db, job_id)
    if row is None or row["kind"] != kind:
        raise ResourceUnknown("job not found")
    return row


async def job_log(b: Backends, job_id: int) -> str:
    return await jobs.log_text(b.db, job_id) or ""


async def list_jobs(
    b: Backends, kinds: list[str], query: ListQuery, parent_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    """Jobs of these kinds (children of ``parent_id`` only, when given), newest first."""
    return await jobs.list_kind(b.db, kinds, query.page_size, query.offset, parent_id)


async def get_schedule(b: Backends, kind: str, owner: str) -> asyncpg.Record | None:
    return await jobs.get_schedule(b.db, kind, owner)
