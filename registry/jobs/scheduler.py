"""The scheduler's tick: start scheduled jobs, send again the jobs no worker received, and
hand the jobs of dead workers to live ones. Any number of schedulers may run: each due
schedule, undispatched job and expired lease is claimed with ``FOR UPDATE SKIP LOCKED``, so
each is handled once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from registry.db import jobs
from registry.services import cron
from registry.services import jobs as job_service
from registry.services.context import Backends
from registry.services.errors import JobServiceUnavailable

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0
# A job recorded but not sent this long after its creation lost its sender (or the broker);
# one sent this long ago and still unclaimed lost its message.
REDISPATCH_GRACE_SECONDS = 10.0
REDISPATCH_STALE_SECONDS = 300.0


async def fire_due(b: Backends) -> list[int]:
    """Create the jobs of every due schedule; return their ids (enqueued after commit)."""
    created: list[int] = []
    async with b.db.acquire() as conn, conn.transaction():
        for schedule in await jobs.due_schedules(conn):
            job_id = await jobs.create(
                conn, schedule["kind"], dict(schedule["parameters"] or {}), trigger="SCHEDULE"
            )
            created.append(job_id)
            following = cron.next_after(schedule["cron"], datetime.now(UTC))
            await jobs.advance_schedule(conn, schedule["id"], following)
    for job_id in created:
        try:
            await job_service.dispatch(b, job_id)
        except JobServiceUnavailable:
            log.warning("broker unavailable; scheduled job %d goes out with a later tick", job_id)
    return created


async def tick(b: Backends) -> None:
    fired = await fire_due(b)
    if fired:
        log.info("started scheduled jobs %s", fired)
    released = await job_service.release_abandoned(b)
    if released:
        log.warning("jobs %s lost their worker; handed on or failed", released)
    resent = await job_service.redispatch(b, REDISPATCH_GRACE_SECONDS, REDISPATCH_STALE_SECONDS)
    if resent:
        log.info("sent jobs %s to the broker again", resent)


async def run_forever(b: Backends, tick_seconds: float = TICK_SECONDS) -> None:
    while True:
        try:
            await tick(b)
        except Exception:
            log.exception("the scheduler tick failed")
        await asyncio.sleep(tick_seconds)
