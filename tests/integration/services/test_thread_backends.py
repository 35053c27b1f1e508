"""A job worker thread keeps its backends from job to job, on the session's real PostgreSQL
and Redis: opened once, opened again when PostgreSQL cut their connections, and nothing a
job must see fresh (the configuration) or must finish (its background work) carried over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest

from registry.config import Settings
from registry.jobs.runner import Outcome
from registry.jobs.thread_backends import ThreadBackends
from registry.runtime import open_backends
from registry.services.context import Backends


class Opener:
    """``open_backends``, counting how often a worker thread opened its backends."""

    def __init__(self) -> None:
        self.opened = 0

    @contextlib.asynccontextmanager
    async def __call__(self, settings: Settings, **options: Any) -> AsyncIterator[Backends]:
        self.opened += 1
        async with open_backends(settings, **options) as backends:
            yield backends


@pytest.fixture
def settings(backends: Backends) -> Settings:
    """The settings of the test's own backends: a migrated, clean database."""
    return backends.settings


@pytest.fixture
def worker_thread() -> Iterator[ThreadPoolExecutor]:
    """One thread, as a Celery worker thread runs job after job."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        yield thread


async def on_thread(thread: ThreadPoolExecutor, kept: ThreadBackends, job: Any) -> Outcome:
    loop = asyncio.get_running_loop()
    outcome: Outcome = await loop.run_in_executor(thread, kept.run, job, 1)
    return outcome


async def test_jobs_on_one_thread_share_the_backends_opened_for_the_first(
    settings: Settings, worker_thread: ThreadPoolExecutor
) -> None:
    opener = Opener()
    kept = ThreadBackends(opener, settings)
    seen: list[int] = []

    async def job(b: Backends, job_id: int) -> Outcome:
        seen.append(id(b))
        assert await b.db.fetchval("SELECT 1") == 1
        assert await b.redis.ping()
        return Outcome("Success")

    try:
        for _ in range(3):
            assert (await on_thread(worker_thread, kept, job)).status == "Success"
    finally:
        await asyncio.get_running_loop().run_in_executor(worker_thread, kept.close)
    assert opener.opened == 1
    assert len(set(seen)) == 1


async def test_backends_whose_connections_postgres_cut_are_opened_again(
    settings: Settings, worker_thread: ThreadPoolExecutor, database_url: str
) -> None:
    opener = Opener()
    kept = ThreadBackends(opener, settings)
    pids: list[int] = []

    async def job(b: Backends, job_id: int) -> Outcome:
        pids.append(await b.db.fetchval("SELECT pg_backend_pid()"))
        return Outcome("Success")

    try:
        await on_thread(worker_thread, kept, job)
        # What a PostgreSQL restart or a dropped connection does to a pool idle between jobs.
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pids[0])
        finally:
            await conn.close()
        assert (await on_thread(worker_thread, kept, job)).status == "Success"
    finally:
        await asyncio.get_running_loop().run_in_executor(worker_thread, kept.close)
    assert opener.opened == 2
    assert pids[1] != pids[0]


async def test_a_job_that_raised_leaves_fresh_backends_to_the_next(
    settings: Settings, worker_thread: ThreadPoolExecutor
) -> None:
    opener = Opener()
    kept = ThreadBackends(opener, settings)

    async def broken(b: Backends, job_id: int) -> Outcome:
        raise RuntimeError("a job that escaped the runner")

    async def fine(b: Backends, job_id: int) -> Outcome:
        return Outcome("Success")

    try:
        with pytest.raises(RuntimeError):
            await on_thread(worker_thread, kept, broken)
        assert (await on_thread(worker_thread, kept, fine)).status == "Success"
    finally:
        await asyncio.get_running_loop().run_in_executor(worker_thread, kept.close)
    assert opener.opened == 2


async def test_background_work_a_job_started_is_done_when_the_job_returns(
    settings: Settings, worker_thread: ThreadPoolExecutor
) -> None:
    kept = ThreadBackends(Opener(), settings)
    done: list[str] = []

    async def notification() -> None:
        await asyncio.sleep(0.3)
        done.append("delivered")

    async def job(b: Backends, job_id: int) -> Outcome:
        b.background.spawn(notification(), "a test notification")
        return Outcome("Success")

    try:
        await on_thread(worker_thread, kept, job)
        assert done == ["delivered"]
    finally:
        await asyncio.get_running_loop().run_in_executor(worker_thread, kept.close)


async def test_a_configuration_change_reaches_the_next_job_at_once(
    settings: Settings, worker_thread: ThreadPoolExecutor, backends: Backends
) -> None:
    kept = ThreadBackends(Opener(), settings)
    seen: list[str] = []

    async def job(b: Backends, job_id: int) -> Outcome:
        seen.append((await b.config.get())["project_creation_restriction"])
        return Outcome("Success")

    try:
        await on_thread(worker_thread, kept, job)
        # Made through another process's backends, well inside the cache's lifetime.
        await backends.config.update({"project_creation_restriction": "adminonly"})
        await on_thread(worker_thread, kept, job)
    finally:
        await asyncio.get_running_loop().run_in_executor(worker_thread, kept.close)
    assert seen == ["everyone", "adminonly"]
