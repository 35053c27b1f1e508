"""The garbage-collection job: a thin wrapper over :func:`registry.services.gc.collect_garbage`."""

from __future__ import annotations

from typing import Any

from registry.jobs.context import JobContext
from registry.metrics.instruments import count_gc_freed
from registry.services.gc import KIND, collect_garbage
from registry.services.read_only import refuse_if_read_only

__all__ = ["KIND", "run"]


async def run(ctx: JobContext) -> dict[str, Any]:
    # A run scheduled before the system went read-only does not start while it is.
    await refuse_if_read_only(ctx.backends)
    params = ctx.parameters
    result = await collect_garbage(
        ctx.backends,
        delete_untagged=bool(params.get("delete_untagged", False)),
        dry_run=bool(params.get("dry_run", False)),
        workers=int(params.get("workers", 1)),
        log=ctx.log,
        should_stop=ctx.should_stop,
    )
    if not result.dry_run:
        count_gc_freed(result.bytes_freed)
    return result.as_dict()
