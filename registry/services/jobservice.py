"""Harbor's job-service view of Berth's jobs: worker pools (each live `berth worker`), their
workers (its job slots), the queues of pending jobs per kind (paused, resumed, stopped), and
the schedules that start jobs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import job_queues
from registry.db import jobs as job_rows
from registry.query import ListQuery
from registry.services import audit, gc, jobs, retention, webhook
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, JobServiceUnavailable, ResourceUnknown
from registry.services.health import WORKER_KEY_PREFIX

ALL = job_queues.ALL
# Kinds whose queue is listed even while empty; any other kind appears while it has work.
STANDING_KINDS = (gc.KIND, audit.PURGE_KIND, retention.EXECUTION_KIND, webhook.KIND)
ACTIONS = ("stop", "pause", "resume")


@dataclass(frozen=True, slots=True)
class WorkerPool:
    pool_id: str
    host: str
    pid: int
    concurrency: int
    started_at: datetime
    beat_at: datetime


def _time(value: object) -> datetime:
    seconds = float(value) if isinstance(value, int | float) else 0.0
    return datetime.fromtimestamp(seconds, UTC)


async def pools(b: Backends) -> list[WorkerPool]:
    """Every worker that reported in within the heartbeat's lifetime."""
    found: list[WorkerPool] = []
    async for key in b.redis.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=100):
        raw = await b.redis.get(key)
        if raw is None:
            continue
        try:
            record: dict[str, Any] = json.loads(raw)
        except ValueError:
            continue
        name = key.decode() if isinstance(key, bytes) else str(key)
        found.append(
            WorkerPool(
                pool_id=name.removeprefix(WORKER_KEY_PREFIX),
                host=str(record.get("host", "")),
                pid=int(record.get("pid", 0)),
                concurrency=int(record.get("concurrency", 1)),
                started_at=_time(record.get("started_at")),
                beat_at=_time(record.get("beat_at")),
            )
        )
    return sorted(found, key=lambda p: p.pool_id)


@dataclass(frozen=True, slots=True)
class WorkerSlot:
    worker_id: str
    pool_id: str
    job_name: str
    job_id: str
    started_at: datetime | None
    checkin_at: datetime | None


async def workers(b: Backends, pool_id: str) -> list[WorkerSlot]:
    """The job slots of one pool (of every pool for 'all'): each running job fills one, the
    rest are idle."""
    live = await pools(b)
    chosen = live if pool_id == ALL else [p for p in live if p.pool_id == pool_id]
    if not chosen:
        raise ResourceUnknown(f"no worker pool {pool_id}")
    running: dict[str, list[asyncpg.Record]] = {}
    for row in await job_queues.running(b.db):
        running.setdefault(row["worker"] or "", []).append(row)
    slots: list[WorkerSlot] = []
    for pool in chosen:
        busy = running.get(pool.pool_id, [])
        for index in range(max(pool.concurrency, len(busy))):
            job = busy[index] if index < len(busy) else None
            slots.append(
                WorkerSlot(
                    worker_id=f"{pool.pool_id}:{index}",
                    pool_id=pool.pool_id,
                    job_name=job["kind"] if job else "",
                    job_id=str(job["id"]) if job else "",
                    started_at=job["started_at"] if job else None,
                    checkin_at=job["updated_at"] if job else None,
                )
            )
    return slots


@dataclass(frozen=True, slots=True)
class Queue:
    job_type: str
    count: int
    latency: int
    paused: bool


async def queues(b: Backends) -> list[Queue]:
    paused = await job_queues.paused_types(b.db)
    pending = {r["kind"]: r for r in await job_queues.pending_by_kind(b.db)}
    kinds = sorted(set(STANDING_KINDS) | set(pending) | (paused - {ALL}))
    now = datetime.now(UTC)
    listed = []
    for kind in kinds:
        row = pending.get(kind)
        latency = int((now - row["oldest"]).total_seconds()) if row else 0
        listed.append(
            Queue(
                job_type=kind,
                count=int(row["count"]) if row else 0,
                latency=max(latency, 0),
                paused=ALL in paused or kind in paused,
            )
        )
    return listed


async def act_on_queue(b: Backends, actor: Principal, job_type: str, action: str) -> None:
    """Stop the queue's pending jobs, pause it (its jobs wait, Pending, and none starts), or
    resume it (its waiting jobs are sent to the workers)."""
    if action not in ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}")
    if job_type != ALL and job_type not in {q.job_type for q in await queues(b)}:
        raise ResourceUnknown(f"no job queue {job_type}")
    if action == "stop":
        await job_queues.stop_pending(b.db, job_type)
    elif action == "pause":
        await job_queues.pause(b.db, job_type)
    else:
        for job_id in await job_queues.resume(b.db, job_type):
            try:
                await b.jobs.enqueue(job_id)
            except JobServiceUnavailable:
                # Still Pending: the scheduler sends it once the broker is back.
                await job_rows.forget_enqueue(b.db, [job_id])
    await b.audit.record(AuditEvent("update", "job_queue", f"{job_type}:{action}", actor.name))


async def stop_job(b: Backends, actor: Principal, job_id: int) -> None:
    if await job_rows.get(b.db, job_id) is None:
        raise ResourceUnknown(f"no job {job_id}")
    await jobs.stop(b, job_id)
    await b.audit.record(AuditEvent("update", "job", f"{job_id}:stop", actor.name))


async def job_log(b: Backends, job_id: int) -> str:
    if await job_rows.get(b.db, job_id) is None:
        raise ResourceUnknown(f"no job {job_id}")
    return await jobs.job_log(b, job_id)


@dataclass(frozen=True, slots=True)
class ScheduleTask:
    schedule_id: int
    vendor_type: str
    vendor_id: int
    cron: str
    extra_attrs: str
    updated_at: datetime


def _vendor_id(owner: str) -> int:
    """Harbor's vendor id: the owning policy's id, -1 for system jobs (GC, audit purge)."""
    _, _, tail = owner.rpartition(":")
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 19 else -1


async def schedules(b: Backends, query: ListQuery) -> tuple[list[ScheduleTask], int]:
    rows, total = await job_queues.list_schedules(b.db, query.page_size, query.offset)
    return [
        ScheduleTask(
            schedule_id=r["id"],
            vendor_type=r["kind"],
            vendor_id=_vendor_id(r["owner"]),
            cron=r["cron"],
            extra_attrs=json.dumps(r["parameters"] or {}),
            updated_at=r["updated_at"],
        )
        for r in rows
    ], total


async def schedule_paused(b: Backends, job_type: str) -> bool:
    """Whether scheduled jobs of this type (of every type, for 'all') are held back."""
    paused = await job_queues.paused_types(b.db)
    return ALL in paused or (job_type != ALL and job_type in paused)
