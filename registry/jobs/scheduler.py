"""Starting scheduled jobs. Any number of schedulers may run: each due schedule is claimed
with ``FOR UPDATE SKIP LOCKED``, so it fires once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from registry.db import jobs
from registry.jobs import cron

if TYPE_CHECKING:
    from registry.services.context import Backends

log = logging.getLogger(__name__)

TICK_SECONDS = 10.0


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
        await b.jobs.enqueue(job_id)
    return created


async def run_forever(b: Backends, tick_seconds: float = TICK_SECONDS) -> None:
    while True:
        try:
            fired = await fire_due(b)
            if fired:
                log.info("started scheduled jobs %s", fired)
        except Exception:
            log.exception("the scheduler tick failed")
        await asyncio.sleep(tick_seconds)
