"""Handing jobs to the Celery workers.

The API process never runs job code; it records the job in PostgreSQL (committed), then sends
its id to the broker. Sending is a blocking kombu call, so it runs in a thread, bounded in
time: a broker that is down or frozen makes ``enqueue`` raise ``JobServiceUnavailable`` within
``SEND_TIMEOUT_SECONDS``, and the recorded job is sent again later by the scheduler.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kombu.exceptions import OperationalError as KombuOperationalError

from registry.config import Settings
from registry.services.errors import JobServiceUnavailable

if TYPE_CHECKING:
    from celery import Celery

SEND_TIMEOUT_SECONDS = 5.0


class CeleryJobQueue:
    """The job queue on Celery: sends job ids to the ``berth`` queue."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Celery | None = None

    def _celery(self) -> Celery:
        if self._app is None:
            # Imported on first use: an API process that never starts a job never loads Celery.
            from registry.jobs.celery_app import create_celery

            self._app = create_celery(self._settings)
        return self._app

    async def enqueue(self, job_id: int, countdown: float = 0) -> None:
        """Send the job to a worker; call only after the job's record is committed."""
        app = self._celery()
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                from registry.jobs.celery_app import QUEUE, TASK_NAME

                await asyncio.to_thread(
                    app.send_task,
                    TASK_NAME,
                    args=[job_id],
                    countdown=countdown or None,
                    queue=QUEUE,
                )
        except (TimeoutError, OSError, KombuOperationalError) as exc:
            raise JobServiceUnavailable(
                f"the job service's broker is unreachable ({type(exc).__name__}); "
                f"job {job_id} is recorded and starts once it is back"
            ) from exc

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
