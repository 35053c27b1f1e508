"""Harbor's job-service API over Berth's jobs, driven by harborapi against a real Celery
worker: pools and their workers from the heartbeats, queues that pause (jobs really wait),
resume and stop, stopping one job, its log, and the schedules list."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import psutil
import pytest
from harborapi.exceptions import Forbidden, NotFound
from harborapi.models import (
    JobQueue,
    Schedule,
    ScheduleObj,
    SchedulerStatus,
    ScheduleTask,
    Type,
    Worker,
    WorkerPool,
)

from tests.integration.api.conftest import Berth, wait_for_job
from tests.integration.api.harbor import harbor
from tests.integration.api.test_identity import PASSWORD, make_user


async def _gc_status(berth: Berth, job_id: int) -> str:
    async with harbor(berth) as client:
        job = await client.get_gc_job(job_id)
    assert job.job_status is not None
    return job.job_status


async def _start_gc(berth: Berth) -> int:
    async with harbor(berth) as client:
        location = await client.create_gc_schedule(
            Schedule(schedule=ScheduleObj(type=Type.manual), parameters={"dry_run": True})
        )
    return int(location.rsplit("/", 1)[1])


async def _queue(berth: Berth, job_type: str) -> JobQueue:
    async with harbor(berth) as client:
        queues = [JobQueue.model_validate(q) for q in await client.get("/jobservice/queues")]
    return next(q for q in queues if q.job_type == job_type)


async def _pools(berth: Berth, within: float = 30) -> list[WorkerPool]:
    deadline = time.monotonic() + within
    async with harbor(berth) as client:
        while True:
            found = [WorkerPool.model_validate(p) for p in await client.get("/jobservice/pools")]
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.5)


async def test_pools_and_workers_show_the_live_worker(
    berth: Berth, job_worker: subprocess.Popen[bytes]
) -> None:
    pools = await _pools(berth)
    assert [p.concurrency for p in pools] == [2]
    pool = pools[0]
    assert pool.worker_pool_id is not None
    # `berth worker` supervises the Celery worker, which is the pool.
    children = {c.pid for c in psutil.Process(job_worker.pid).children(recursive=True)}
    assert pool.pid in children
    assert pool.worker_pool_id == f"{pool.host}:{pool.pid}"
    async with harbor(berth) as client:
        slots = [
            Worker.model_validate(w)
            for w in await client.get(f"/jobservice/pools/{pool.worker_pool_id}/workers")
        ]
        assert len(slots) == 2
        assert {w.pool_id for w in slots} == {pool.worker_pool_id}
        every = await client.get("/jobservice/pools/all/workers")
        assert isinstance(every, list)
        assert len(every) == 2
        with pytest.raises(NotFound):
            await client.get("/jobservice/pools/nosuchpool/workers")


async def test_paused_queue_holds_its_jobs_until_resumed(
    berth: Berth, job_worker: subprocess.Popen[bytes]
) -> None:
    assert await _pools(berth), "the worker never reported in"
    async with harbor(berth) as client:
        await client.put("/jobservice/queues/GARBAGE_COLLECTION", json={"action": "pause"})
    job_id = await _start_gc(berth)
    # Long enough for an idle worker to have run a dry-run GC several times over.
    await asyncio.sleep(4)
    assert await _gc_status(berth, job_id) == "Pending"
    queue = await _queue(berth, "GARBAGE_COLLECTION")
    assert queue.paused is True
    assert queue.count == 1
    assert queue.latency is not None
    assert queue.latency >= 3
    assert (await _queue(berth, "PURGE_AUDIT_LOG")).paused is False
    async with harbor(berth) as client:
        paused = SchedulerStatus.model_validate(await client.get("/schedules/all/paused"))
        assert paused.paused is False
        await client.put("/jobservice/queues/GARBAGE_COLLECTION", json={"action": "resume"})
    done = await wait_for_job(berth, f"/api/v2.0/system/gc/{job_id}", within=30)
    assert done["job_status"] == "Success"
    assert (await _queue(berth, "GARBAGE_COLLECTION")).count == 0


async def test_pausing_all_holds_every_kind_and_stop_clears_the_queue(
    berth: Berth, job_worker: subprocess.Popen[bytes]
) -> None:
    async with harbor(berth) as client:
        await client.put("/jobservice/queues/all", json={"action": "pause"})
        paused = SchedulerStatus.model_validate(await client.get("/schedules/all/paused"))
        assert paused.paused is True
    first, second = await _start_gc(berth), await _start_gc(berth)
    await asyncio.sleep(2)
    assert (await _queue(berth, "GARBAGE_COLLECTION")).count == 2
    async with harbor(berth) as client:
        await client.put("/jobservice/queues/GARBAGE_COLLECTION", json={"action": "stop"})
        await client.put("/jobservice/queues/all", json={"action": "resume"})
    assert await _gc_status(berth, first) == "Stopped"
    assert await _gc_status(berth, second) == "Stopped"
    # The queue runs again.
    third = await _start_gc(berth)
    done = await wait_for_job(berth, f"/api/v2.0/system/gc/{third}", within=30)
    assert done["job_status"] == "Success"


async def test_stop_one_job_and_read_its_log(
    berth: Berth, job_worker: subprocess.Popen[bytes]
) -> None:
    async with harbor(berth) as client:
        await client.put("/jobservice/queues/GARBAGE_COLLECTION", json={"action": "pause"})
        job_id = await _start_gc(berth)
        await client.put(f"/jobservice/jobs/{job_id}")
        assert await _gc_status(berth, job_id) == "Stopped"
        await client.put("/jobservice/queues/GARBAGE_COLLECTION", json={"action": "resume"})
        ran = await _start_gc(berth)
        await wait_for_job(berth, f"/api/v2.0/system/gc/{ran}", within=30)
        log = await client.get_text(f"/jobservice/jobs/{ran}/log")
        assert "finished: Success" in log
        with pytest.raises(NotFound):
            await client.put("/jobservice/jobs/999999")
        with pytest.raises(NotFound):
            await client.get_text("/jobservice/jobs/999999/log")


async def test_schedules_list_what_starts_jobs(berth: Berth) -> None:
    async with harbor(berth) as client:
        await client.update_gc_schedule(
            Schedule(schedule=ScheduleObj(type=Type.custom, cron="0 0 3 * * *"), parameters={})
        )
        raw: Any = await client.get("/schedules")
        tasks = [ScheduleTask.model_validate(t) for t in raw]
        assert [(t.vendor_type, t.vendor_id, t.cron) for t in tasks] == [
            ("GARBAGE_COLLECTION", -1, "0 0 3 * * *")
        ]
        await client.update_gc_schedule(Schedule(schedule=ScheduleObj(type=Type.none)))
        assert await client.get("/schedules") == []


async def test_job_service_is_for_system_administrators(berth: Berth) -> None:
    await make_user(berth, "dev")
    async with harbor(berth, "dev", PASSWORD) as client:
        for path in ("/jobservice/pools", "/jobservice/queues", "/schedules"):
            with pytest.raises(Forbidden):
                await client.get(path)
        with pytest.raises(Forbidden):
            await client.put("/jobservice/queues/all", json={"action": "pause"})
