"""The audit trail against the real PostgreSQL: a recorded event is committed when ``record``
returns, concurrent events all land, and a failed write is the caller's
error (the request is not acknowledged)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from registry.db.migrate import migrate
from registry.db.pool import Pool, open_pool
from registry.services.audit import AuditEvent, AuditTrail


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
