"""The job service's Celery app as Berth configures it: which broker, how a worker runs, and
that a sending app refuses to run jobs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from registry.config import Settings
from registry.jobs.celery_app import QUEUE, TASK_NAME, broker_url, create_celery, worker_argv


def test_the_broker_is_redis_unless_one_is_named() -> None:
    redis_only = Settings(redis_url=SecretStr("redis://cache:6379/0"))
    assert broker_url(redis_only) == "redis://cache:6379/0"
    both = Settings(
        redis_url=SecretStr("redis://cache:6379/0"), broker_url=SecretStr("amqp://mq:5672//")
    )
    assert broker_url(both) == "amqp://mq:5672//"


def test_a_worker_runs_threads_on_berths_queue() -> None:
    settings = Settings(worker_concurrency=3, log_level="debug")
    assert worker_argv(settings, ["--hostname", "w1@host"]) == [
        "worker",
        "--pool",
        "threads",
        "--loglevel",
        "DEBUG",
        "--concurrency",
        "3",
        "--queues",
        QUEUE,
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        "w1@host",
    ]


def test_the_app_acknowledges_late_and_gives_up_on_the_broker_quickly() -> None:
    app = create_celery(Settings(redis_url=SecretStr("redis://127.0.0.1:1/0")))
    assert app.conf.task_default_queue == QUEUE
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_connection_timeout == 2.0
    assert app.conf.task_publish_retry_policy["max_retries"] == 2


def test_an_app_made_only_to_send_jobs_refuses_to_run_one() -> None:
    app = create_celery(Settings(redis_url=SecretStr("redis://127.0.0.1:1/0")))
    with pytest.raises(RuntimeError, match="only sends jobs"):
        app.tasks[TASK_NAME].run(42)


class Opened(Exception):
    """Raised by the fake composition root: the task reached for its own backends."""


def test_each_app_runs_its_own_task_whichever_was_made_first() -> None:
    settings = Settings(redis_url=SecretStr("redis://127.0.0.1:1/0"))
    sender = create_celery(settings)

    def open_backends(*args: object, **kwargs: object) -> Any:
        raise Opened

    worker = create_celery(settings, open_backends)
    with pytest.raises(Opened):
        worker.tasks[TASK_NAME].run(42)
    with pytest.raises(RuntimeError, match="only sends jobs"):
        sender.tasks[TASK_NAME].run(42)
