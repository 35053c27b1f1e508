"""The scan job and the scan-all job: thin wrappers over the scan services."""

from __future__ import annotations

from typing import Any

from registry.jobs.context import JobContext
from registry.services import scan, scan_job

KIND = scan.KIND
ALL_KIND = scan.ALL_KIND


async def run(ctx: JobContext) -> dict[str, Any]:
    return await scan_job.run_scan(ctx.backends, ctx.parameters, ctx.log, ctx.should_stop)


async def run_all(ctx: JobContext) -> dict[str, Any]:
    return await scan.scan_all(ctx.backends, ctx.log, ctx.should_stop)
