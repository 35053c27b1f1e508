from __future__ import annotations

import asyncio
import threading
import time

from registry.jobs.scheduler_thread import SchedulerThread


def test_the_session_runs_again_after_it_fails_and_stops_when_asked() -> None:
    sessions: list[str] = []
    closed = threading.Event()

    async def session() -> None:
        sessions.append(threading.current_thread().name)
        if len(sessions) < 3:
            raise ConnectionError("the database is restarting")
        try:
            await asyncio.sleep(3600)
        finally:
            closed.set()

    scheduler = SchedulerThread(session, retry_seconds=0.01).start()
    deadline = time.monotonic() + 5
    while len(sessions) < 3:
        assert time.monotonic() < deadline, sessions
        time.sleep(0.01)
    assert scheduler.alive
    began = time.monotonic()
    scheduler.stop(timeout=5)
    assert not scheduler.alive
    assert time.monotonic() - began < 2
    assert closed.is_set()
    # Not the caller's thread: the Celery worker keeps its own.
    assert sessions == ["scheduler"] * 3


def test_stop_during_the_pause_after_a_failure_ends_at_once() -> None:
    async def session() -> None:
        raise ConnectionError("refused")

    scheduler = SchedulerThread(session, retry_seconds=3600).start()
    time.sleep(0.1)
    began = time.monotonic()
    scheduler.stop(timeout=5)
    assert not scheduler.alive
    assert time.monotonic() - began < 2
