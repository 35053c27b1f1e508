"""Starting, stopping and scheduling jobs from the API (and from events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from registry.db import jobs
from registry.jobs import cron
from registry.services.context import Backends
from registry.services.errors import RegistryError


class ScheduleInvalid(RegistryError):
    """invalid schedule"""


async def submit(
    b: Backends,
    kind: str,
    parameters: dict[str, Any],
    trigger: str = "MANUAL",
    parent_id: int | None = None,
) -> int:
    """Record a job and hand it to the workers (after the record is committed)."""
    job_id = await jobs.create(b.db, kind, parameters, trigger, parent_id)
    await b.jobs.enqueue(job_id)
    return job_id


async def stop(b: Backends, job_id: int) -> bool:
    return await jobs.request_stop(b.db, job_id)


async def set_schedule(
    b: Backends,
    kind: str,
    owner: str,
    schedule_type: str,
    cron_text: str | None,
    parameters: dict[str, Any],
) -> None:
    """Create, change or (type None) remove the schedule that starts ``kind`` jobs."""
    try:
        expression = cron.expression_for(schedule_type, cron_text)
        next_run = cron.next_after(expression, datetime.now(UTC)) if expression else None
    except cron.CronInvalid as exc:
        raise ScheduleInvalid(str(exc)) from None
    if expression is None and schedule_type in ("None", ""):
        await jobs.put_schedule(b.db, kind, owner, "None", "", parameters, None)
        return
    if expression is None:
        raise ScheduleInvalid(f"{schedule_type} is not a schedule")
    await jobs.put_schedule(b.db, kind, owner, schedule_type, expression, parameters, next_run)
