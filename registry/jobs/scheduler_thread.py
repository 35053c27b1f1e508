"""The scheduler on a thread of the Celery worker's process, with an event loop of its own.

A process of its own would hold as much memory again as the worker (the same imports) to
wake up every few seconds. Sharing the worker's process is safe because its pool is threads:
nothing forks a process that has this thread in it. If the scheduler's connections fail (the
database restarting), it opens them again after a pause, as a supervised process would be
restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Session = Callable[[], Coroutine[Any, Any, None]]


class SchedulerThread:
    def __init__(self, session: Session, retry_seconds: float = 5.0) -> None:
        """``session`` opens the scheduler's backends and ticks until cancelled."""
        self._session = session
        self._retry_seconds = retry_seconds
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> SchedulerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the session (its backends close) and wait up to ``timeout`` for the thread."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # the loop finished meanwhile
            self._loop.call_soon_threadsafe(self._cancel_all)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _cancel_all(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(self._forever())
        finally:
            self._loop.close()

    async def _forever(self) -> None:
        self._stopping = asyncio.Event()
        while not self._stopping.is_set():
            try:
                await self._session()
            except Exception:
                log.exception("the scheduler stopped; starting it again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_seconds)
