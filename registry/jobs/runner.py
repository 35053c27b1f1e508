"""Running one job: status transitions, the log, retries and stop requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.db import jobs
from registry.jobs.context import JobContext, RetryLater

if TYPE_CHECKING:
    from registry.services.context import Backends

log = logging.getLogger(__name__)

Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]
MAX_ATTEMPTS_DEFAULT = 4  # the first run and three retries


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    retry_in: float | None = None


def handlers() -> dict[str, Handler]:
    """The explicit table of job kinds; an unknown kind is an error, never a silent no-op."""
    from registry.jobs import kinds

    return kinds.HANDLERS


async def run_job(b: Backends, job_id: int) -> Outcome:
    row = await jobs.get(b.db, job_id)
    if row is None or row["status"] in jobs.FINISHED:
        return Outcome(row["status"] if row else "Missing")
    handler = handlers().get(row["kind"])
    if handler is None:
        await jobs.append_log(b.db, job_id, f"no handler for job kind {row['kind']}\n")
        await jobs.finish(b.db, job_id, "Error")
        return Outcome("Error")
    if not await jobs.start(b.db, job_id):
        return Outcome("Stopped")
    ctx = JobContext(
        b, job_id, row["kind"], dict(row["parameters"] or {}), row["attempts"] + 1, row["trigger"]
    )
    max_attempts = int(ctx.parameters.get("max_attempts", MAX_ATTEMPTS_DEFAULT))
    try:
        result = await handler(ctx)
    except RetryLater as retry:
        await ctx.log(f"attempt {ctx.attempt} failed: {retry}", "WARNING")
        if ctx.attempt < max_attempts and not await ctx.should_stop():
            await jobs.set_pending(b.db, job_id)
            return Outcome("Pending", retry.delay)
        await ctx.log(f"giving up after {ctx.attempt} attempts", "ERROR")
        await jobs.finish(b.db, job_id, "Error")
        return Outcome("Error")
    except Exception as exc:
        log.exception("job %d (%s) failed", job_id, row["kind"])
        await ctx.log(f"failed: {type(exc).__name__}: {exc}", "ERROR")
        await jobs.finish(b.db, job_id, "Error")
        return Outcome("Error")
    status = "Stopped" if await ctx.should_stop() else "Success"
    await ctx.log(f"finished: {status}")
    await jobs.finish(b.db, job_id, status, result)
    return Outcome(status)
