"""RabbitMQ as the job broker, chosen by URL alone: the API sends a job over AMQP and a real
`berth worker` configured with ``BERTH_BROKER_URL=amqp://…`` runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from registry.jobs.queue import CeleryJobQueue
from tests.integration.api.conftest import Berth, worker_environment
from tests.integration.api.test_gc import run_gc
from tests.integration.rabbitmq_server import RabbitMQServer, rabbitmq_available

WORKER_START_SECONDS = 30


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQServer]:
    """A private RabbitMQ node (not the system service), for the whole session."""
    if not rabbitmq_available():
        pytest.fail("rabbitmq-server is not installed: scripts/test installs Debian's package")
    server = RabbitMQServer().start()
    try:
        yield server
    finally:
        server.stop()


def _start_worker(berth: Berth, broker: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**worker_environment(berth.settings), "BERTH_BROKER_URL": broker}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + WORKER_START_SECONDS
    while b"ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_worker(process)
            pytest.fail(f"the AMQP job worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.1)
    return process


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def test_jobs_run_through_rabbitmq(berth: Berth, rabbitmq: RabbitMQServer) -> None:
    log_path = berth.settings.data_dir / "worker-rabbitmq.log"
    worker = _start_worker(berth, rabbitmq.url, log_path)
    backends = berth.app.state.backends
    redis_queue = backends.jobs
    amqp_queue = CeleryJobQueue(
        berth.settings.model_copy(update={"broker_url": SecretStr(rabbitmq.url)})
    )
    backends.jobs = amqp_queue
    try:
        done = await run_gc(berth, dry_run=True)
    finally:
        backends.jobs = redis_queue
        amqp_queue.close()
        _stop_worker(worker)
    log = log_path.read_text(errors="replace")
    assert done["job_status"] == "Success", f"{done}\n{log[-4000:]}"
    # Celery hides the password in what it logs.
    assert f"Connected to amqp://guest:**@127.0.0.1:{rabbitmq.port}//" in log, log[-4000:]
    # The job was this worker's, received over AMQP (no Redis worker ran it).
    assert "Task berth.run_job[" in log, log[-4000:]
    assert "succeeded" in log, log[-4000:]
