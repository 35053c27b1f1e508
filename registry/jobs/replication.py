"""The replication jobs: thin wrappers over :mod:`registry.services.replication`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from registry.jobs.context import JobContext
from registry.services import notify, replication, replication_registry
from registry.services.replication_policy import EXECUTION_KIND

KIND = EXECUTION_KIND
TASK_KIND = replication.TASK_KIND
HEALTH_KIND = replication_registry.HEALTH_KIND
# A copy into this registry is a push: its webhooks and event-based replications start in
# the background, and this job's event loop ends with the job, so they are awaited first.
NOTIFICATIONS_WAIT_SECONDS = 15.0


async def _settled(ctx: JobContext) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(NOTIFICATIONS_WAIT_SECONDS):
            await notify.wait_pending(ctx.backends)


async def run(ctx: JobContext) -> dict[str, Any]:
    try:
        return await replication.run_listing(
            ctx.backends, ctx.parameters, ctx.job_id, ctx.trigger, ctx.log
        )
    finally:
        await _settled(ctx)


async def run_task(ctx: JobContext) -> dict[str, Any]:
    try:
        return await replication.run_task(
            ctx.backends, ctx.parameters, ctx.job_id, ctx.attempt, ctx.log
        )
    finally:
        await _settled(ctx)


async def check_health(ctx: JobContext) -> dict[str, Any]:
    statuses = await replication_registry.check_all(ctx.backends)
    for name, status in statuses.items():
        await ctx.log(f"{name}: {status}")
    return {"registries": statuses}
