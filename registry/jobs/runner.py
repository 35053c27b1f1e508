"""Running one job: status transitions, the log, retries and stop requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from registry.db import job_queues, jobs
from registry.jobs import kinds
from registry.jobs.context import Handler, JobContext
from registry.metrics.instruments import observe_job
from registry.services.context import Backends
from registry.services.errors import RetryLater
from registry.services.jobs import MAX_ATTEMPTS_DEFAULT

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    retry_in: float | None = None


def handlers() -> dict[str, Handler]:
    """The explicit table of job kinds; an unknown kind is an error, never a silent no-op."""
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
    if await job_queues.is_paused(b.db, row["kind"]):
        # Left Pending and unsent: resuming the queue sends it again.
        await jobs.forget_enqueue(b.db, [job_id])
        return Outcome("Paused")
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if not await jobs.claim(b.db, job_id, worker, LEASE_SECONDS):
        # Finished, stopped, or running on a live worker (a message delivered twice).
        return Outcome("Skipped")
    ctx = JobContext(
        b, job_id, row["kind"], dict(row["parameters"] or {}), row["attempts"] + 1, row["trigger"]
    )
    async with _holding_lease(b, job_id, worker):
        return await _run_claimed(b, ctx, handler)


@contextlib.asynccontextmanager
async def _holding_lease(b: Backends, job_id: int, worker: str) -> AsyncIterator[None]:
    """Renew the job's lease while it runs: a worker killed outright stops renewing, and the
    scheduler then hands the job to another worker within about ``LEASE_SECONDS``."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await jobs.renew_lease(b.db, job_id, worker, LEASE_SECONDS)
            except Exception:
                log.warning("renewing the lease of job %d failed", job_id, exc_info=True)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer


async def _run_claimed(b: Backends, ctx: JobContext, handler: Handler) -> Outcome:
    started = time.monotonic()
    outcome = await _run_handler(b, ctx, handler)
    observe_job(ctx.kind, outcome.status, time.monotonic() - started)
    return outcome


async def _run_handler(b: Backends, ctx: JobContext, handler: Handler) -> Outcome:
    job_id = ctx.job_id
    max_attempts = int(ctx.parameters.get("max_attempts", MAX_ATTEMPTS_DEFAULT))
    try:
        result = await handler(ctx)
    except RetryLater as retry:
        await ctx.log(f"attempt {ctx.attempt} failed: {retry}", "WARNING")
        if ctx.attempt < max_attempts and not await ctx.should_stop():
            await jobs.set_pending(b.db, job_id, retry.delay)
            return Outcome("Pending", retry.delay)
        await ctx.log(f"giving up after {ctx.attempt} attempts", "ERROR")
        await jobs.finish(b.db, job_id, "Error")
        return Outcome("Error")
    except Exception as exc:
        log.exception("job %d (%s) failed", job_id, ctx.kind)
        await ctx.log(f"failed: {type(exc).__name__}: {exc}", "ERROR")
        await jobs.finish(b.db, job_id, "Error")
        return Outcome("Error")
    status = "Stopped" if await ctx.should_stop() else "Success"
    await ctx.log(f"finished: {status}")
    await jobs.finish(b.db, job_id, status, result)
    return Outcome(status)
