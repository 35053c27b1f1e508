"""One worker thread's event loop and backends, kept from one job to the next.

A replication of many small images is hundreds of jobs of a few tens of milliseconds each;
opening a PostgreSQL pool, a Redis client and the rest for every one of them cost about as
much as the copy itself. Each Celery worker thread therefore keeps one event loop and one set
of backends. What a job must not inherit is dropped at its start or end: the configuration
is read afresh; the work it started in the background (webhook notifications, replications
its pushes trigger) gets a bounded wait, since the loop does not run between jobs; buffered
audit events and pull times are written; and backends that fail a one-query probe
(PostgreSQL restarted, a connection cut) or that a job broke with an escaped exception are
closed and opened again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from registry.config import Settings
from registry.jobs.runner import Outcome
from registry.services.context import Backends

log = logging.getLogger(__name__)

# Opens one process's backends (the composition root's ``open_backends``).
OpenBackends = Callable[..., contextlib.AbstractAsyncContextManager[Backends]]
RunJob = Callable[[Backends, int], Awaitable[Outcome]]

PROBE_TIMEOUT_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 10.0
BACKGROUND_WAIT_SECONDS = 15.0
POOL_SIZE = 4


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn's standard extra brings it): a replication task is
    mostly socket writes and reads, which it makes cheaper; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class ThreadBackends:
    """Runs jobs on this thread's loop with backends opened once. Not thread-safe: one per
    thread (see :func:`for_this_thread`)."""

    def __init__(self, open_backends: OpenBackends, settings: Settings) -> None:
        self._open = open_backends
        self._settings = settings
        self._runner = asyncio.Runner(loop_factory=loop_factory())
        self._stack: contextlib.AsyncExitStack | None = None
        self._backends: Backends | None = None

    def run(self, run_job: RunJob, job_id: int) -> Outcome:
        return self._runner.run(self._run(run_job, job_id))

    def close(self) -> None:
        self._runner.run(self._discard())
        self._runner.close()

    async def _run(self, run_job: RunJob, job_id: int) -> Outcome:
        backends = await self._usable()
        try:
            outcome = await run_job(backends, job_id)
        except BaseException:
            await self._discard()
            raise
        await self._settle(backends)
        return outcome

    @staticmethod
    async def _settle(backends: Backends) -> None:
        try:
            async with asyncio.timeout(BACKGROUND_WAIT_SECONDS):
                await backends.background.wait()
        except TimeoutError:
            log.warning("a job's background work outlived it; it goes on with the next job")
        await backends.audit.flush()

    async def _usable(self) -> Backends:
        if self._backends is not None and not await self._answers(self._backends):
            await self._discard()
        if self._backends is None:
            stack = contextlib.AsyncExitStack()
            self._backends = await stack.enter_async_context(
                self._open(self._settings, pool_size=POOL_SIZE, for_jobs=True)
            )
            self._stack = stack
        # A configuration change made a moment ago applies to the next job, as it did when
        # every job opened its own backends.
        self._backends.config.invalidate()
        return self._backends

    @staticmethod
    async def _answers(backends: Backends) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                await backends.db.fetchval("SELECT 1")
        except Exception:
            log.info("the kept database pool failed its probe; opening a new one")
            return False
        return True

    async def _discard(self) -> None:
        stack, self._stack, self._backends = self._stack, None, None
        if stack is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await stack.aclose()
        except Exception:
            log.warning("closing a worker thread's backends failed", exc_info=True)
