"""Faults, caused for real against ``berth serve``'s own processes: the job worker, the
embedded PostgreSQL and Redis killed (SIGKILL) or frozen (SIGSTOP), serve itself killed.

Each test asserts what a client sees (the status, the error body, how long the answer took)
and that every write that was acknowledged is still there afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from registry.embedded import EmbeddedRedis
from tests.e2e._jobs import (
    Serve,
    WebhookSink,
    push_image,
    run_gc,
    start_serve,
    state_dir,
    try_push,
    wait_for_job,
    webhook_executions,
    webhook_policy,
)

pytestmark = pytest.mark.e2e

PASSWORD = "Faults-pass-1"
BERTH = [sys.executable, "-m", "registry.cli"]
# A client must hear back within this, whatever is frozen: a database statement times out
# after 5 s and cancelling it takes at most as long again, the broker's send bound is 5 s, a
# Redis command's 3 s.
ANSWER_WITHIN = 15.0


@pytest.fixture
def home() -> Iterator[Path]:
    with state_dir("faults") as path:
        yield path


@pytest.fixture
def serve(home: Path) -> Iterator[Serve]:
    running = start_serve(BERTH, home, password=PASSWORD)
    try:
        yield running
    finally:
        # Whatever a test froze must not keep the shutdown waiting.
        for proc in _tree(running):
            with contextlib.suppress(psutil.Error):
                proc.resume()
        stopped = running.server.stop()
    assert stopped.clean, f"{stopped.explain()}\n{running.server.describe()}"


def _tree(serve: Serve) -> list[psutil.Process]:
    assert serve.server.proc is not None
    try:
        root = psutil.Process(serve.server.proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _data(serve: Serve) -> Path:
    return serve.server.cwd / "berth-data"


def _child(serve: Serve, marker: str) -> psutil.Process:
    """serve's direct child whose command line contains ``marker``."""
    assert serve.server.proc is not None
    for proc in psutil.Process(serve.server.proc.pid).children():
        with contextlib.suppress(psutil.Error):
            if any(marker in part for part in proc.cmdline()):
                return proc
    raise AssertionError(f"no child of berth serve runs {marker!r}")


def _postgres(serve: Serve) -> list[psutil.Process]:
    """The postmaster first, then its backends and helpers."""
    pid = int((_data(serve) / "postgres" / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def _freeze_postgres(serve: Serve) -> list[psutil.Process]:
    """SIGSTOP the postmaster first, so it forks no new backend, then everything it forked."""
    postmaster, *_ = _postgres(serve)
    postmaster.suspend()
    children = postmaster.children(recursive=True)
    for child in children:
        child.suspend()
    return [postmaster, *children]


def _redis(serve: Serve) -> list[psutil.Process]:
    return [psutil.Process(int((_data(serve) / "redis.pid").read_text().split()[0]))]


def _wait_for_log(serve: Serve, text: str, offset: int, within: float = 30.0) -> str:
    deadline = time.monotonic() + within
    while text not in (logged := serve.server.log_since(offset)):
        assert time.monotonic() < deadline, f"serve never printed {text!r}:\n{logged}"
        time.sleep(0.2)
    return logged


@dataclass
class Attempt:
    tag: str
    status: int | None
    seconds: float
    body: str


@dataclass
class PushLoad:
    """Pushes one small image after another from a thread, recording every answer."""

    serve: Serve
    repository: str
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        number = 0
        with self.serve.registry(timeout=60.0) as registry:
            while not self._stop.is_set():
                number += 1
                tag = f"t{number}"
                began = time.monotonic()
                try:
                    r = try_push(registry, self.repository, tag)
                    status, body = r.status_code, r.text
                except httpx.HTTPError as exc:
                    status, body = None, repr(exc)
                self.attempts.append(Attempt(tag, status, time.monotonic() - began, body))
                time.sleep(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[PushLoad]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=120)

    def acknowledged(self) -> list[str]:
        return [a.tag for a in self.attempts if a.status == 201]


def _assert_answers_were_clean(load: PushLoad) -> None:
    """Every push either worked or was refused with a 503 in OCI's format, in bounded time."""
    for attempt in load.attempts:
        assert attempt.seconds < ANSWER_WITHIN * 3, attempt  # three requests per push
        assert attempt.status in (201, 503), attempt
        if attempt.status == 503:
            assert '"code": "UNAVAILABLE"' in attempt.body, attempt


def _assert_acknowledged_pushes_kept(serve: Serve, load: PushLoad) -> None:
    tags = load.acknowledged()
    assert tags, "no push was acknowledged at all"
    with serve.registry() as registry:
        for tag in tags:
            r = registry.head(f"/v2/{load.repository}/manifests/{tag}")
            assert r.status_code == 200, f"acknowledged push {tag} is gone: {r.status_code}"
    audited: set[str] = set()
    with serve.api() as api:
        page = 1
        while True:
            # Harbor records an artifact push as operation "create".
            query = f"operation=create,resource_type=artifact,resource=~{load.repository}:"
            r = api.get("/audit-logs", params={"q": query, "page": page, "page_size": 100})
            assert r.status_code == 200, r.text
            rows = r.json()
            if not rows:
                break
            audited.update(row["resource"] for row in rows)
            page += 1
    missing = [tag for tag in tags if f"{load.repository}:{tag}" not in audited]
    assert not missing, f"acknowledged pushes without an audit record: {missing}"


def _recovers(serve: Serve, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    with serve.registry() as registry, serve.api() as api:
        while True:
            try:
                push_image(registry, "library/after", f"x{time.time_ns()}")
                health = api.get("/health")
                if health.status_code == 200:
                    return
            except (AssertionError, httpx.HTTPError):
                pass
            assert time.monotonic() < deadline, "Berth did not recover"
            time.sleep(0.5)


# --- the job worker ------------------------------------------------------------------------


def test_a_job_whose_worker_is_killed_is_handed_to_the_next_worker(serve: Serve) -> None:
    offset = serve.server.log_offset()
    # The first delivery hangs, so the job is surely running when its worker dies.
    sink = WebhookSink(hang_first=1, hang_seconds=8.0)
    with sink.running(), serve.api() as api, serve.registry() as registry:
        policy_id = webhook_policy(api, "library", sink.address)
        push_image(registry, "library/worker-kill", "v1")
        deadline = time.monotonic() + 30
        while sink._seen == 0:
            assert time.monotonic() < deadline, "the webhook job never started"
            time.sleep(0.1)
        killed_at = time.monotonic()
        _child(serve, "celery-worker").kill()
        _wait_for_log(serve, "job worker exited with code -9; restarting", offset)
        _wait_for_log(serve, "job worker restarted", offset)
        [finished] = webhook_executions(api, "library", policy_id, count=1, within=90)
        handed_on_after = time.monotonic() - killed_at
        path = f"/projects/library/webhook/policies/{policy_id}/executions"
        log = api.get(f"{path}/{finished['id']}/tasks/{finished['id']}/log").text
    assert finished["status"] == "Success", log
    assert "stopped answering; retrying" in log, log
    assert handed_on_after < 60, f"the job took {handed_on_after:.0f}s to be handed on"
    assert len(sink.received) == 1


# --- PostgreSQL ----------------------------------------------------------------------------


def test_postgres_killed_under_load(serve: Serve) -> None:
    offset = serve.server.log_offset()
    with PushLoad(serve, "library/pg-kill").running() as load:
        time.sleep(2)
        for proc in _postgres(serve)[:1]:
            proc.kill()
        _wait_for_log(serve, "PostgreSQL exited with code -9; restarting", offset)
        _wait_for_log(serve, "PostgreSQL restarted", offset)
        time.sleep(3)
    _assert_answers_were_clean(load)
    assert any(a.status == 201 for a in load.attempts[-3:]), load.attempts[-5:]
    _recovers(serve)
    _assert_acknowledged_pushes_kept(serve, load)


def test_postgres_frozen_gives_503_in_bounded_time(serve: Serve) -> None:
    with serve.api() as api, serve.registry() as registry:
        push_image(registry, "library/pg-freeze", "before")
        processes = _freeze_postgres(serve)
        try:
            began = time.monotonic()
            r = registry.get("/v2/library/pg-freeze/manifests/before")
            took = time.monotonic() - began
            assert r.status_code == 503, r.text
            assert r.json()["errors"][0]["code"] == "UNAVAILABLE"
            assert took < ANSWER_WITHIN, f"/v2/ answered after {took:.1f}s"

            began = time.monotonic()
            r = api.get("/projects")
            took = time.monotonic() - began
            assert r.status_code == 503, r.text
            assert r.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
            assert took < ANSWER_WITHIN, f"/api/ answered after {took:.1f}s"

            began = time.monotonic()
            health = api.get("/health")
            assert time.monotonic() - began < 5
            assert health.status_code == 503
            database = next(c for c in health.json()["components"] if c["name"] == "database")
            assert database["status"] == "unhealthy"
            assert database["error"]
        finally:
            for proc in processes:
                proc.resume()
    _recovers(serve)


# --- Redis -----------------------------------------------------------------------------------


def test_redis_killed_under_load(serve: Serve) -> None:
    offset = serve.server.log_offset()
    with PushLoad(serve, "library/redis-kill").running() as load:
        time.sleep(2)
        _redis(serve)[0].kill()
        _wait_for_log(serve, "Redis exited with code -9; restarting", offset)
        _wait_for_log(serve, "Redis restarted", offset)
        time.sleep(3)
    _assert_answers_were_clean(load)
    _recovers(serve)
    _assert_acknowledged_pushes_kept(serve, load)


def test_redis_frozen_gives_503_in_bounded_time(serve: Serve) -> None:
    redis = _redis(serve)[0]
    with serve.api() as api, serve.registry() as registry:
        push_image(registry, "library/redis-freeze", "before")
        redis.suspend()
        try:
            for client, path, code in (
                (api, "/projects", "SERVICE_UNAVAILABLE"),
                (registry, "/v2/library/redis-freeze/manifests/before", "UNAVAILABLE"),
            ):
                began = time.monotonic()
                r = client.get(path)
                took = time.monotonic() - began
                assert took < ANSWER_WITHIN, f"{path} answered after {took:.1f}s"
                assert r.status_code == 503, r.text
                assert r.json()["errors"][0]["code"] == code
            began = time.monotonic()
            health = api.get("/health")
            assert time.monotonic() - began < 5
            assert health.status_code == 503
            components = {c["name"]: c for c in health.json()["components"]}
            assert components["redis"]["status"] == "unhealthy"
        finally:
            redis.resume()
    _recovers(serve)


@pytest.fixture
def broker() -> Iterator[EmbeddedRedis]:
    """A Redis of its own as the job broker, so the broker can fail while the cache works."""
    with state_dir("broker") as root:
        server = EmbeddedRedis(root)
        try:
            server.start()
            yield server
        finally:
            server.stop()


def test_broker_frozen_at_enqueue_answers_503_and_the_job_runs_later(
    home: Path, broker: EmbeddedRedis
) -> None:
    assert broker.url is not None
    assert broker.pid is not None
    serve = start_serve(BERTH, home, password=PASSWORD, extra_env={"BERTH_BROKER_URL": broker.url})
    broker_process = psutil.Process(broker.pid)
    try:
        with serve.api(timeout=60.0) as api:
            before = {job["id"] for job in api.get("/system/gc").json()}
            broker_process.suspend()
            try:
                began = time.monotonic()
                r = api.post(
                    "/system/gc/schedule",
                    json={"schedule": {"type": "Manual"}, "parameters": {}},
                )
                took = time.monotonic() - began
                assert r.status_code == 503, r.text
                assert r.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
                assert "recorded" in r.json()["errors"][0]["message"]
                assert took < ANSWER_WITHIN, f"answered after {took:.1f}s"
            finally:
                broker_process.resume()
            # The job was recorded before the broker failed; the scheduler sends it once the
            # broker is back, and it runs.
            recorded = [job for job in api.get("/system/gc").json() if job["id"] not in before]
            assert len(recorded) == 1, recorded
            finished = wait_for_job(api, f"/system/gc/{recorded[0]['id']}", within=90)
            assert finished["job_status"] == "Success", finished
            assert run_gc(api)["job_status"] == "Success"
    finally:
        stopped = serve.server.stop()
    assert stopped.clean, stopped.explain()


# --- berth serve itself ----------------------------------------------------------------------


def test_with_two_workers_a_second_http_process_answers_and_is_restarted_when_killed(
    home: Path,
) -> None:
    running = start_serve(BERTH, home, password=PASSWORD, extra_args=("--workers", "2"))
    try:
        offset = running.server.log_offset()
        own = psutil.Process(_pid(running))
        # serve's own process frozen: every new connection is accepted by the other one.
        own.suspend()
        try:
            _answers_on_new_connections(running)
        finally:
            own.resume()
        _child(running, "http-process").kill()
        _wait_for_log(running, "HTTP process 2 exited with code -9; restarting", offset)
        _wait_for_log(running, "HTTP process 2 restarted", offset)
        own.suspend()
        try:
            _answers_on_new_connections(running)
        finally:
            own.resume()
    finally:
        stopped = running.server.stop()
    assert stopped.clean, stopped.explain()


def _pid(serve: Serve) -> int:
    assert serve.server.proc is not None
    return serve.server.proc.pid


def _answers_on_new_connections(serve: Serve) -> None:
    for _ in range(5):
        # A client per request: a kept connection would stay with the process that took it.
        with serve.api(timeout=ANSWER_WITHIN) as api:
            r = api.get("/projects", params={"name": "library"})
        assert r.status_code == 200, r.text
        assert [p["name"] for p in r.json()] == ["library"]


def test_killed_serve_leaves_no_child_behind_and_loses_no_acknowledged_write(
    home: Path,
) -> None:
    running = start_serve(BERTH, home, password=PASSWORD)
    with PushLoad(running, "library/serve-kill").running() as load:
        while len(load.acknowledged()) < 10:
            time.sleep(0.05)
        tree = _tree(running)
        names = {" ".join(p.cmdline())[:80] for p in tree}
        # Killed right behind the acknowledgements: whatever was answered must be on disk.
        os.kill(tree[0].pid, signal.SIGKILL)
    assert len(tree) >= 5, names  # serve, PostgreSQL (+ its helpers), Redis, worker, scheduler
    assert running.server.proc is not None
    running.server.proc.wait(timeout=10)
    _gone, alive = psutil.wait_procs(tree[1:], timeout=15)
    survivors = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            survivors.append(" ".join(proc.cmdline()))
            proc.kill()
    assert not survivors, f"processes outlived a killed berth serve: {survivors}"

    again = start_serve(BERTH, home, password=PASSWORD)
    try:
        _assert_acknowledged_pushes_kept(again, load)
    finally:
        stopped = again.server.stop()
    assert stopped.clean, stopped.explain()


def test_serve_gives_up_on_a_process_that_keeps_dying(home: Path) -> None:
    running = start_serve(
        BERTH,
        home,
        password=PASSWORD,
        extra_env={"BERTH_SUPERVISOR_RESTART_LIMIT": "1"},
    )
    offset = running.server.log_offset()
    _child(running, "celery-worker").kill()
    _wait_for_log(running, "job worker restarted", offset)
    _child(running, "celery-worker").kill()
    _wait_for_log(running, "giving up", offset)
    assert running.server.proc is not None
    code = running.server.proc.wait(timeout=60)
    assert code != 0
    stopped = running.server.stop()
    assert not stopped.leftovers, stopped.explain()
