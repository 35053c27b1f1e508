"""Handing jobs to the Celery workers.

The API process never runs job code; it records the job in PostgreSQL (committed), then sends
its id to the broker. Sending is a blocking kombu call, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from registry.config import Settings

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "berth.run_job"
QUEUE = "berth"


def broker_url(settings: Settings) -> str:
    if settings.broker_url is not None:
        return settings.broker_url.get_secret_value()
    assert settings.redis_url is not None
    return settings.redis_url.get_secret_value()


class JobQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Celery | None = None

    def _celery(self) -> Celery:
        if self._app is None:
            from registry.jobs.celery_app import create_celery

            self._app = create_celery(self._settings)
        return self._app

    async def enqueue(self, job_id: int, countdown: float = 0) -> None:
        """Send the job to a worker; call only after the job's record is committed."""
        app = self._celery()
        await asyncio.to_thread(
            app.send_task, TASK_NAME, args=[job_id], countdown=countdown or None, queue=QUEUE
        )

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
