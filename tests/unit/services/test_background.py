"""Work a request starts without waiting for it: it runs, it is awaited at shutdown, and its
failure is logged instead of lost."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

from registry.services.background import BackgroundTasks


async def test_spawned_work_runs_and_can_be_waited_for() -> None:
    done: list[str] = []
    release = asyncio.Event()

    async def notify(name: str) -> None:
        await release.wait()
        done.append(name)

    tasks = BackgroundTasks()
    tasks.spawn(notify("a"), "a webhook notification")
    tasks.spawn(notify("b"), "a webhook notification")
    await asyncio.sleep(0)
    assert done == []
    release.set()
    await tasks.wait()
    assert sorted(done) == ["a", "b"]
    await tasks.wait()  # nothing left: returns at once


async def test_a_failure_is_logged_with_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("policy lookup failed")

    tasks = BackgroundTasks()
    with caplog.at_level(logging.ERROR, logger="registry.services.background"):
        tasks.spawn(broken(), "a webhook notification")
        await tasks.wait()
        await asyncio.sleep(0)
    [record] = caplog.records
    assert record.getMessage() == "a webhook notification failed"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "policy lookup failed"


async def test_cancelled_work_is_no_failure(caplog: pytest.LogCaptureFixture) -> None:
    running: list[asyncio.Task[object]] = []

    async def forever() -> None:
        task = asyncio.current_task()
        assert task is not None
        running.append(task)
        await asyncio.Event().wait()

    tasks = BackgroundTasks()
    with caplog.at_level(logging.ERROR, logger="registry.services.background"):
        tasks.spawn(forever(), "a webhook notification")
        await asyncio.sleep(0)
        [task] = running
        task.cancel()
        await tasks.wait()
        await asyncio.sleep(0)
    assert caplog.records == []


def test_without_an_event_loop_the_work_is_dropped_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[bool] = []

    async def work() -> None:
        ran.append(True)

    coroutine = work()
    with caplog.at_level(logging.WARNING, logger="registry.services.background"):
        BackgroundTasks().spawn(coroutine, "a webhook notification")
    assert caplog.messages == ["no event loop is running; a webhook notification was dropped"]
    # Closed, so it never runs and no "never awaited" warning follows.
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
    assert ran == []
