"""Workers say they are alive: every few seconds each Celery worker writes a short-lived key
in Redis. ``/health`` and the job-service API read those keys; a worker that dies stops
writing, and its key expires within ``WORKER_TTL_SECONDS``.

The beat runs on the worker's own timer (its event loop, in the main process), not in a
thread: the worker forks its pool children, and a thread alive across a fork can leave a
lock held in the child forever.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from typing import Any, ClassVar

import redis
from celery import bootsteps

from registry.config import Settings
from registry.services.health import WORKER_KEY_PREFIX, WORKER_TTL_SECONDS

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 10.0


def heartbeat_step(settings: Settings) -> type[bootsteps.StartStopStep]:
    assert settings.redis_url is not None
    url = settings.redis_url.get_secret_value()

    class Heartbeat(bootsteps.StartStopStep):  # type: ignore[misc]
        requires: ClassVar[set[str]] = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self._key = f"{WORKER_KEY_PREFIX}{socket.gethostname()}:{os.getpid()}"
            self._started = time.time()
            self._timer_entry: Any = None
            self._client: redis.Redis | None = None

        def start(self, worker: Any) -> None:
            self._client = redis.Redis.from_url(
                url, socket_timeout=settings.redis_timeout_seconds, socket_connect_timeout=2
            )
            self._beat(worker)
            self._timer_entry = worker.timer.call_repeatedly(
                INTERVAL_SECONDS, self._beat, (worker,), priority=10
            )

        def stop(self, worker: Any) -> None:
            if self._timer_entry is not None:
                self._timer_entry.cancel()
            if self._client is not None:
                with contextlib.suppress(redis.RedisError):
                    self._client.delete(self._key)
                self._client.close()

        def _beat(self, worker: Any) -> None:
            assert self._client is not None
            record = {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "concurrency": settings.worker_concurrency,
                "started_at": self._started,
                "beat_at": time.time(),
            }
            try:
                self._client.set(self._key, json.dumps(record), ex=WORKER_TTL_SECONDS)
            except redis.RedisError as exc:
                log.warning("worker heartbeat failed: %s", exc)

    return Heartbeat
