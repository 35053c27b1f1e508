"""Blob upload sessions: where an upload stands, so any replica can continue it."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from registry.db.pool import Executor


async def create(db: Executor, upload_id: uuid.UUID, repository: str, project_id: int) -> None:
    await db.execute(
        "INSERT INTO upload_sessions (id, repository, project_id) VALUES ($1, $2, $3)",
        upload_id,
        repository,
        project_id,
    )


async def get(db: Executor, upload_id: uuid.UUID) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT id, repository, project_id, size, writes, updated_at FROM upload_sessions
        WHERE id = $1
        """,
        upload_id,
    )


async def advance(db: Executor, upload_id: uuid.UUID, expected: int, new_size: int) -> bool:
    """Record the new size only if nobody else moved the upload meanwhile."""
    status: str = await db.execute(
        """
        UPDATE upload_sessions SET size = $3, updated_at = now()
        WHERE id = $1 AND size = $2
        """,
        upload_id,
        expected,
        new_size,
    )
    return status == "UPDATE 1"


async def begin_write(db: Executor, upload_id: uuid.UUID, expected: int) -> int | None:
    """Count a new writer on the session (before it writes anything) and return its number,
    or None when the session is gone or no longer stands at ``expected`` bytes."""
    writes: int | None = await db.fetchval(
        """
        UPDATE upload_sessions SET writes = writes + 1, updated_at = now()
        WHERE id = $1 AND size = $2
        RETURNING writes
        """,
        upload_id,
        expected,
    )
    return writes


async def delete(db: Executor, upload_id: uuid.UUID) -> None:
    await db.execute("DELETE FROM upload_sessions WHERE id = $1", upload_id)


async def idle_since(db: Executor, cutoff: datetime, limit: int = 500) -> list[uuid.UUID]:
    rows = await db.fetch(
        "SELECT id FROM upload_sessions WHERE updated_at < $1 ORDER BY updated_at LIMIT $2",
        cutoff,
        limit,
    )
    return [r["id"] for r in rows]
