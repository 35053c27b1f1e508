"""The Celery application: one task that runs any job by id.

Each worker thread runs its jobs on one event loop with backends it keeps from job to job
(:mod:`registry.jobs.thread_backends`: opening them cost as much as a small job). Retries
are Celery retries with the delay the job asked for (exponential backoff is the job's
choice).
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery, Task

from registry.config import Settings
from registry.jobs.heartbeat import heartbeat_step
from registry.jobs.runner import run_job
from registry.jobs.thread_backends import OpenBackends, ThreadBackends

TASK_NAME = "berth.run_job"
QUEUE = "berth"


def broker_url(settings: Settings) -> str:
    if settings.broker_url is not None:
        return settings.broker_url.get_secret_value()
    assert settings.redis_url is not None
    return settings.redis_url.get_secret_value()


def create_celery(settings: Settings, open_backends: OpenBackends | None = None) -> Celery:
    """The Celery app; ``open_backends`` is needed to run jobs, not to send them."""
    app = Celery("berth", broker=broker_url(settings))
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        # A sender must learn quickly that the broker is gone (the job stays recorded and the
        # scheduler sends it again); kombu's defaults retry for many seconds.
        broker_connection_timeout=2.0,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
    )
    app.steps["worker"].add(heartbeat_step(settings))
    per_thread = threading.local()

    # Not shared (Celery's default): a shared task is added to every app made later in the
    # process, whose own would then lose to this closure (its settings, its backends).
    @app.task(name=TASK_NAME, bind=True, max_retries=None, shared=False)  # type: ignore[untyped-decorator]
    def run(self: Task, job_id: int) -> str:
        if open_backends is None:
            raise RuntimeError("this Celery app only sends jobs")
        kept: ThreadBackends | None = getattr(per_thread, "backends", None)
        if kept is None:
            kept = per_thread.backends = ThreadBackends(open_backends, settings)
        outcome = kept.run(run_job, job_id)
        if outcome.retry_in is not None:
            raise self.retry(countdown=outcome.retry_in)
        return outcome.status

    return app


def worker_argv(settings: Settings, extra: list[Any] | None = None) -> list[str]:
    # Jobs wait on PostgreSQL, Redis and storage, not on the CPU: threads serve them as well as
    # forked children, without a process (and its memory) per slot and without forking a
    # process that may hold locks.
    return [
        "worker",
        "--pool",
        "threads",
        "--loglevel",
        settings.log_level.upper(),
        "--concurrency",
        str(settings.worker_concurrency),
        "--queues",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        *(str(e) for e in extra or []),
    ]
