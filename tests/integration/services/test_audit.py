"""The audit trail against the real PostgreSQL: a recorded event is committed when ``record``
returns, concurrent events all land, a failed write is the caller's error (the request is not
acknowledged), and only batches of pulls alone skip waiting for the disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from registry.db.migrate import migrate
from registry.db.pool import Pool, open_pool
from registry.services.audit import PULL_DB_SETTINGS, AuditEvent, AuditTrail


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    db = await open_pool(database_url, size=4, command_timeout=None)
    async with db.acquire() as conn:
        await migrate(conn)
    await db.execute("DELETE FROM audit_logs WHERE resource LIKE 'audit-test/%'")
    try:
        yield db
    finally:
        await db.execute("DELETE FROM audit_logs WHERE resource LIKE 'audit-test/%'")
        await db.close()


async def _count(db: Pool) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM audit_logs WHERE resource LIKE 'audit-test/%'"
    )
    return count


async def test_a_recorded_event_is_committed_when_record_returns(pool: Pool) -> None:
    trail = AuditTrail(pool)
    trail.start()
    try:
        await trail.record(AuditEvent("create", "artifact", "audit-test/a:1", "admin"))
        # Read on another connection, with no flush: it is already there.
        assert await _count(pool) == 1
    finally:
        await trail.stop()


async def test_a_burst_of_concurrent_events_all_land(pool: Pool) -> None:
    trail = AuditTrail(pool)
    trail.start()
    try:
        # Every other one names no project: batches mix both.
        events = [
            AuditEvent("pull", "artifact", f"audit-test/r:{i}", f"dev{i}", i if i % 2 else None)
            for i in range(300)
        ]
        await asyncio.gather(*(trail.record(event) for event in events))
    finally:
        await trail.stop()
    rows = await pool.fetch(
        "SELECT project_id, operation, resource_type, resource, username FROM audit_logs "
        "WHERE resource LIKE 'audit-test/%'"
    )
    landed = sorted((tuple(row) for row in rows), key=lambda row: row[3])
    wanted = sorted(
        ((e.project_id, e.operation, e.resource_type, e.resource, e.username) for e in events),
        key=lambda row: row[3],
    )
    assert landed == wanted


async def test_record_raises_when_the_database_cannot_take_the_event(database_url: str) -> None:
    db = await open_pool(database_url, size=1, command_timeout=None)
    trail = AuditTrail(db)
    trail.start()
    await db.close()
    with pytest.raises(Exception):  # noqa: B017, PT011 — asyncpg's own "pool is closed"
        await trail.record(AuditEvent("create", "artifact", "audit-test/lost:1", "admin"))
    await trail.stop()


async def _pull_pool(database_url: str) -> Pool:
    settings = {**PULL_DB_SETTINGS, "application_name": "audit-test-pulls"}
    return await open_pool(
        database_url, 1, min_size=0, command_timeout=None, server_settings=settings
    )


async def test_pulls_alone_commit_without_waiting_for_the_disk_and_the_rest_wait(
    pool: Pool, database_url: str
) -> None:
    pull_db = await _pull_pool(database_url)
    assert await pull_db.fetchval("SHOW synchronous_commit") == "off"
    assert await pool.fetchval("SHOW synchronous_commit") == "on"
    trail = AuditTrail(pool, pull_db=pull_db)
    trail.start()
    try:
        await trail.record(AuditEvent("pull", "artifact", "audit-test/p:1", "dev"))
        # In PostgreSQL when record returns, as every record is.
        assert await _count(pool) == 1
        pull_db.terminate()
        # Pulls alone went to the closed pool; anything else, alone or with pulls, does not.
        with pytest.raises(Exception):  # noqa: B017, PT011 — asyncpg's own "pool is closed"
            await trail.record(AuditEvent("pull", "artifact", "audit-test/p:2", "dev"))
        await trail.record(AuditEvent("create", "artifact", "audit-test/c:1", "dev"))
        await asyncio.gather(
            trail.record(AuditEvent("pull", "artifact", "audit-test/p:3", "dev")),
            trail.record(AuditEvent("delete", "artifact", "audit-test/d:1", "dev")),
        )
        assert await _count(pool) == 4
    finally:
        await trail.stop()
        await pull_db.close()


async def test_pulls_are_recorded_again_once_their_connection_was_killed(
    pool: Pool, database_url: str
) -> None:
    pull_db = await _pull_pool(database_url)
    trail = AuditTrail(pool, pull_db=pull_db)
    trail.start()
    try:
        await trail.record(AuditEvent("pull", "artifact", "audit-test/k:1", "dev"))
        killed = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE application_name = 'audit-test-pulls'"
        )
        assert killed == 1  # the one connection the writer keeps between batches
        # The pull that meets the dead connection fails (its request answers 503)...
        with pytest.raises(Exception):  # noqa: B017, PT011 — asyncpg's connection error
            await trail.record(AuditEvent("pull", "artifact", "audit-test/k:2", "dev"))
        # ...and the next one is written on a new connection.
        await trail.record(AuditEvent("pull", "artifact", "audit-test/k:3", "dev"))
        assert await _count(pool) == 2
    finally:
        await trail.stop()
        await pull_db.close()
