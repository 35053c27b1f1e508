"""A real Berth (uvicorn, real HTTP) on a free port, backed by the session's PostgreSQL and
Redis, with a clean database for every test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn

from registry.app import create_app
from registry.config import Settings
from registry.db.migrate import migrate
from registry.services.bootstrap import bootstrap

ADMIN_PASSWORD = "Harbor12345"
_TABLES = (
    "tags, artifact_references, artifact_blobs, artifacts, upload_sessions, project_blobs, "
    "blobs, repositories, projects, users"
)


@dataclass
class Berth:
    url: str
    settings: Settings
    storage_root: Path
    database_url: str

    def client(self, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, auth=auth, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
async def berth_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Berth]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    data_dir = tmp_path_factory.mktemp("berth")
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        max_manifest_bytes=4 * 1024 * 1024,
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Berth(f"http://127.0.0.1:{port}", settings, settings.storage_root, database_url)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def berth(berth_server: Berth) -> Berth:
    pool = await asyncpg.create_pool(berth_server.database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        await pool.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
        await bootstrap(pool, ADMIN_PASSWORD)
    finally:
        await pool.close()
    return berth_server


async def create_project(berth: Berth, name: str, public: bool = False) -> None:
    """Projects get an API with the identity service; until then tests insert them."""
    conn = await asyncpg.connect(berth.database_url)
    try:
        await conn.execute("INSERT INTO projects (name, public) VALUES ($1, $2)", name, public)
    finally:
        await conn.close()
