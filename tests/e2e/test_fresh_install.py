"""Berth installed the way README says, into a fresh venv without the test extras, and run
the way users run it: every start runs jobs (GC, retention, webhook delivery) to Success.

Several starts in a row, because the failure this guards against (a worker that deadlocked
at start) was intermittent; and the standalone ``berth worker --with-scheduler`` the same way.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from tests.e2e._jobs import (
    WebhookSink,
    push_image,
    retention_policy,
    run_gc,
    run_retention,
    start_serve,
    state_dir,
    wait_for_job,
    webhook_executions,
    webhook_policy,
)
from tests.e2e._servers import REPO_ROOT, ServerProcess, berth_env

pytestmark = pytest.mark.e2e

STARTS = 5
PASSWORD = "Fresh-install-1"
# What a checkout holds beyond what `pip install .` needs.
_NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "build", "__pycache__", ".mypy_cache", ".ruff_cache", "tests"
)


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python3 -m venv`` + ``pip install -c constraints.txt .`` from a copy of the checkout
    (so the build leaves nothing in it); returns the venv's ``berth``."""
    root = tmp_path_factory.mktemp("fresh")
    source = root / "berth-src"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SHIPPED)
    venv = root / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "-c", "constraints.txt", "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # Without the test extras: nothing pytest brings may be what makes Berth work.
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import pytest"], check=False)
    assert probe.returncode != 0, "the fresh venv has pytest: it is not the user's install"
    return venv / "bin" / "berth"


def _library_id(api: httpx.Client) -> int:
    r = api.get("/projects/library")
    assert r.status_code == 200, r.text
    return int(r.json()["project_id"])


def test_every_start_of_berth_serve_runs_jobs(fresh_install: Path) -> None:
    with state_dir("fresh") as workdir, WebhookSink().running() as sink:
        # A `registry/` folder where users start Berth (a checkout, say) must not be what the
        # worker and scheduler import.
        (workdir / "registry").mkdir()
        (workdir / "registry" / "__init__.py").write_text(
            'raise RuntimeError("imported ./registry instead of the installed Berth")\n'
        )
        policy_ids: tuple[int, int] | None = None
        for start in range(1, STARTS + 1):
            serve = start_serve([str(fresh_install)], workdir, password=PASSWORD)
            try:
                with serve.api() as api, serve.registry() as registry:
                    if policy_ids is None:
                        policy_ids = (
                            retention_policy(api, _library_id(api)),
                            webhook_policy(api, "library", sink.address),
                        )
                    retention_id, hook_id = policy_ids
                    push_image(registry, "library/fresh", f"start-{start}")
                    gc = run_gc(api)
                    assert gc["job_status"] == "Success", (start, gc)
                    execution = run_retention(api, retention_id)
                    assert execution["status"] == "Success", (start, execution)
                    deliveries = webhook_executions(api, "library", hook_id, count=start)
                    assert all(d["status"] == "Success" for d in deliveries), (start, deliveries)
                    assert len(sink.received) == start
                    assert sink.received[-1]["type"] == "PUSH_ARTIFACT"
            finally:
                stopped = serve.server.stop()
            assert stopped.clean, f"start {start}: {stopped.explain()}\n{serve.server.describe()}"


@pytest.fixture
def private_database(database_url: str) -> Iterator[str]:
    """A database of its own on the suite's PostgreSQL, dropped afterwards."""
    name = f"fresh_{time.time_ns()}"

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    asyncio.run(run(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_every_start_of_a_standalone_worker_runs_jobs(
    fresh_install: Path, tmp_path: Path, private_database: str, redis_url: str
) -> None:
    services = {
        "BERTH_DATABASE_URL": private_database,
        # A Redis database of its own, so this broker queue is nobody else's.
        "BERTH_REDIS_URL": redis_url.rsplit("/", 1)[0] + "/7",
        "BERTH_STORAGE__FILESYSTEM__ROOT": str(tmp_path / "storage"),
        # One data dir for both, as on one host: it holds the key that seals secrets.
        "BERTH_DATA_DIR": str(tmp_path / "data"),
    }
    serve = start_serve(
        [str(fresh_install)],
        tmp_path / "api",
        password=PASSWORD,
        extra_args=("--no-job-worker",),
        extra_env=services,
    )
    try:
        with serve.api() as api, serve.registry() as registry:
            retention_id = retention_policy(api, _library_id(api))
            for start in range(1, STARTS + 1):
                worker = ServerProcess(
                    "berth-worker",
                    [str(fresh_install), "worker", "--with-scheduler"],
                    env=berth_env(PASSWORD, **services),
                    log_path=tmp_path / "worker.log",
                    cwd=tmp_path,
                )
                worker.start()
                try:
                    push_image(registry, "library/standalone", f"start-{start}")
                    assert run_gc(api)["job_status"] == "Success", worker.describe()
                    assert run_retention(api, retention_id)["status"] == "Success"
                    # The scheduler is a process of its own: a schedule due every 2 s fires.
                    _scheduled_gc_fires(api)
                finally:
                    assert worker.proc is not None
                    began = time.monotonic()
                    worker.proc.send_signal(signal.SIGTERM)
                    code = worker.proc.wait(timeout=60)
                    took = time.monotonic() - began
                    leftovers = worker.stop()
                assert code == 0, worker.describe()
                assert took < 40, f"worker took {took:.1f}s to stop"
                assert not leftovers.leftovers, leftovers.explain()
    finally:
        stopped = serve.server.stop()
    assert stopped.clean, stopped.explain()


def _scheduled_gc_fires(api: httpx.Client) -> None:
    before = {job["id"] for job in api.get("/system/gc").json()}
    r = api.put(
        "/system/gc/schedule",
        json={"schedule": {"type": "Custom", "cron": "*/2 * * * * *"}, "parameters": {}},
    )
    assert r.status_code == 200, r.text
    try:
        deadline = time.monotonic() + 45
        while True:
            scheduled = [
                job
                for job in api.get("/system/gc").json()
                if job["id"] not in before and job["job_kind"] == "SCHEDULE"
            ]
            if scheduled:
                wait_for_job(api, f"/system/gc/{scheduled[0]['id']}")
                return
            assert time.monotonic() < deadline, "the scheduled GC never started"
            time.sleep(0.5)
    finally:
        r = api.put("/system/gc/schedule", json={"schedule": {"type": "None"}, "parameters": {}})
        assert r.status_code == 200, r.text
