"""A real Berth (uvicorn, real HTTP) on a free port, backed by the session's PostgreSQL and
Redis, with a clean database for every test. Tests of stored bytes run twice: blobs on the
filesystem, and blobs in S3 (moto's server over HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import boto3
import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from registry.app import create_app
from registry.config import Settings
from registry.db.migrate import migrate
from registry.db.pool import open_pool
from registry.services.bootstrap import bootstrap
from registry.storage.base import PathNotFoundError
from tests.integration.api.tokens import TokenAuth
from tests.integration.storage.conftest import s3_settings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

ADMIN_PASSWORD = "Harbor12345"
GC_GRACE_SECONDS = 4
_TABLES = (
    "tags, artifact_references, artifact_blobs, artifacts, upload_sessions, project_blobs, "
    "blobs, repositories, project_members, robot_permissions, robots, user_group_members, "
    "user_groups, configurations, audit_logs, jobs, schedules, projects, users, "
    "replication_registries, job_queue_pauses"
)


@dataclass
class Berth:
    url: str
    settings: Settings
    storage_root: Path
    database_url: str
    driver: str
    app: Starlette

    async def stored(self, path: str) -> list[str]:
        """Everything under ``path`` in the server's blob store, including bytes of writers
        not committed yet (which drivers hide from walk), read behind the driver's back."""
        if self.driver == "filesystem":
            base = self.storage_root / path.lstrip("/")
            return sorted(str(p) for p in base.rglob("*") if p.is_file()) if base.exists() else []
        s3 = self.settings.storage.s3
        assert s3.access_key is not None
        assert s3.secret_key is not None
        client = boto3.session.Session().client(
            "s3",
            region_name=s3.region,
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=s3.access_key.get_secret_value(),
            aws_secret_access_key=s3.secret_key.get_secret_value(),
        )
        prefix = f"{s3.prefix.strip('/')}{path}"
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=s3.bucket, Prefix=prefix
            )
            for item in page.get("Contents", [])
        ]
        uploads = client.list_multipart_uploads(Bucket=s3.bucket, Prefix=prefix).get("Uploads", [])
        return sorted(keys + [f"multipart:{u['Key']}" for u in uploads])

    def client(self, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)) -> httpx.AsyncClient:
        """A client that logs in through the token service (anonymously when ``auth`` is
        None), as docker and podman do."""
        return httpx.AsyncClient(base_url=self.url, auth=TokenAuth(auth), timeout=60)

    def raw(self) -> httpx.AsyncClient:
        """A client that sends no credentials at all."""
        return httpx.AsyncClient(base_url=self.url, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules about stored bytes (``STORAGE_DRIVERS = ("filesystem", "s3")``) run against
    both blob stores; the rest, which only touch metadata, against the filesystem."""
    if "berth_server" in metafunc.fixturenames:
        drivers = getattr(metafunc.module, "STORAGE_DRIVERS", ("filesystem",))
        metafunc.parametrize("berth_server", drivers, indirect=True, scope="session")


@pytest.fixture(scope="session")
async def berth_server(
    request: pytest.FixtureRequest,
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Berth]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    data_dir = tmp_path_factory.mktemp("berth")
    settings = Settings(
        data_dir=data_dir,
        database_url=SecretStr(database_url),
        redis_url=SecretStr(redis_url),
        max_manifest_bytes=4 * 1024 * 1024,
        # Short, so garbage-collection tests need not wait long for what they deleted.
        gc_grace_seconds=GC_GRACE_SECONDS,
        # Both servers (filesystem, S3) share the database, so they share its secret key.
        secret_key_path=tmp_path_factory.getbasetemp() / "berth-secret.key",
    )
    if request.param == "s3":
        endpoint: str = request.getfixturevalue("s3_endpoint")
        admin: S3Client = request.getfixturevalue("s3_admin")
        admin.create_bucket(Bucket="berth-api")
        settings = settings.model_copy(update={"storage": s3_settings(endpoint, "berth-api")})
    port = _free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Berth(
            f"http://127.0.0.1:{port}",
            settings,
            settings.storage_root,
            database_url,
            settings.storage.driver,
            app,
        )
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def berth(berth_server: Berth) -> Berth:
    # Audit lines and pull times the last test left buffered must land before the wipe, not
    # in this test's tables (where ids start again from 1).
    await berth_server.app.state.backends.background.wait()
    await berth_server.app.state.backends.audit.flush()
    pool = await open_pool(berth_server.database_url, size=2)
    try:
        await pool.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        await bootstrap(pool, ADMIN_PASSWORD)
    finally:
        await pool.close()
    backends = berth_server.app.state.backends
    # A clean blob store too, so what a test finds in storage is what it put there.
    for top in ("/blobs", "/uploads"):
        with contextlib.suppress(PathNotFoundError):
            await backends.storage.delete(top)
    backends.identity.forget_all()
    backends.config.invalidate()
    backends.webhook_subscriptions.invalidate()
    await backends.redis.flushdb()
    return berth_server


async def create_project(berth: Berth, name: str, public: bool = False) -> None:
    async with httpx.AsyncClient(base_url=berth.url, auth=("admin", ADMIN_PASSWORD)) as c:
        r = await c.post(
            "/api/v2.0/projects",
            json={"project_name": name, "metadata": {"public": str(public).lower()}},
        )
        assert r.status_code == 201, r.text


def worker_environment(settings: Settings) -> dict[str, str]:
    """The environment a `berth worker` needs to work on the same services as ``settings``."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "BERTH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BERTH_REDIS_URL": settings.redis_url.get_secret_value(),
        "BERTH_DATA_DIR": str(settings.data_dir),
        **(
            {"BERTH_SECRET_KEY_PATH": str(settings.secret_key_path)}
            if settings.secret_key_path is not None
            else {}
        ),
        "BERTH_GC_GRACE_SECONDS": str(settings.gc_grace_seconds),
        "BERTH_LOG_LEVEL": "info",
    }
    storage = settings.storage
    env["BERTH_STORAGE__DRIVER"] = storage.driver
    if storage.driver == "filesystem":
        env["BERTH_STORAGE__FILESYSTEM__ROOT"] = str(settings.storage_root)
    else:
        s3 = storage.s3
        assert s3.access_key is not None
        assert s3.secret_key is not None
        env.update(
            {
                "BERTH_STORAGE__S3__BUCKET": s3.bucket,
                "BERTH_STORAGE__S3__REGION": s3.region,
                "BERTH_STORAGE__S3__ENDPOINT_URL": s3.endpoint_url or "",
                "BERTH_STORAGE__S3__ACCESS_KEY": s3.access_key.get_secret_value(),
                "BERTH_STORAGE__S3__SECRET_KEY": s3.secret_key.get_secret_value(),
                "BERTH_STORAGE__S3__PATH_STYLE": str(s3.path_style).lower(),
                "BERTH_STORAGE__S3__PREFIX": s3.prefix,
                "BERTH_STORAGE__S3__PART_SIZE": str(s3.part_size),
            }
        )
    return env


@pytest.fixture(scope="session")
def job_worker(berth_server: Berth) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (`berth worker`) on the server's database, Redis and
    storage: jobs started through the API run there."""
    log_path = berth_server.settings.data_dir / "worker.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "worker", "--concurrency", "2"],
            env=worker_environment(berth_server.settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the job worker did not start:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.2)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_for_job(berth: Berth, path: str, within: float = 60) -> dict[str, Any]:
    """Poll a job resource (e.g. /api/v2.0/system/gc/3) until it has finished."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=berth.url, auth=("admin", ADMIN_PASSWORD)) as c:
        while True:
            body: dict[str, Any] = (await c.get(path)).json()
            if body.get("job_status", body.get("status")) in ("Success", "Error", "Stopped"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"job {path} did not finish: {body}")
            await asyncio.sleep(0.2)
