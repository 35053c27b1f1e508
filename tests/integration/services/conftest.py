"""Service functions called directly, on the session's real PostgreSQL and Redis, each test
starting from a clean database with only the admin account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from registry.auth.principal import Principal
from registry.config import Settings
from registry.db.migrate import migrate
from registry.runtime import open_backends
from registry.services.bootstrap import bootstrap
from registry.services.context import Backends
from registry.services.identity import IdentityService
from tests.integration.api.conftest import _TABLES, ADMIN_PASSWORD


@pytest.fixture
async def backends(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Backends]:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    settings = Settings(
        data_dir=tmp_path,
        database_url=SecretStr(database_url),
        redis_url=SecretStr(redis_url),
        # The key the database's secrets are sealed with, shared with the API tests' servers.
        secret_key_path=tmp_path_factory.getbasetemp() / "berth-secret.key",
    )
    async with open_backends(settings, pool_size=2) as b:
        await bootstrap(b.db, ADMIN_PASSWORD)
        await b.redis.flushdb()
        yield b


async def login(identity: IdentityService, username: str, password: str) -> Principal:
    principal = await identity.login(username, password)
    assert principal is not None, f"{username} could not log in"
    return principal


@pytest.fixture
async def admin(backends: Backends) -> Principal:
    return await login(backends.identity, "admin", ADMIN_PASSWORD)


async def audit_lines(b: Backends) -> list[tuple[str, str, str, str]]:
    """(operation, resource_type, resource, username) of every audit record, oldest first."""
    await b.audit.flush()
    rows = await b.db.fetch(
        "SELECT operation, resource_type, resource, username FROM audit_logs ORDER BY id"
    )
    return [(r["operation"], r["resource_type"], r["resource"], r["username"]) for r in rows]
