"""The replication jobs: thin wrappers over :mod:`registry.services.replication`."""

from __future__ import annotations

from typing import Any

from registry.jobs.context import JobContext
from registry.services import replication, replication_registry
from registry.services.replication_policy import EXECUTION_KIND

KIND = EXECUTION_KIND
TASK_KIND = replication.TASK_KIND
HEALTH_KIND = replication_registry.HEALTH_KIND


async def run(ctx: JobContext) -> dict[str, Any]:
    return await replication.run_listing(
        ctx.backends, ctx.parameters, ctx.job_id, ctx.trigger, ctx.log
    )


async def run_task(ctx: JobContext) -> dict[str, Any]:
    return await replication.run_task(
        ctx.backends, ctx.parameters, ctx.job_id, ctx.attempt, ctx.log
    )


async def check_health(ctx: JobContext) -> dict[str, Any]:
    statuses = await replication_registry.check_all(ctx.backends)
    for name, status in statuses.items():
        await ctx.log(f"{name}: {status}")
    return {"registries": statuses}
