"""Repositories inside projects."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def get_id(db: Executor, name: str) -> int | None:
    repo_id: int | None = await db.fetchval("SELECT id FROM repositories WHERE name = $1", name)
    return repo_id


async def ensure(db: Executor, project_id: int, name: str) -> int:
    """The repository's id, creating it on first push."""
    repo_id: int = await db.fetchval(
        """
        INSERT INTO repositories (project_id, name) VALUES ($1, $2)
        ON CONFLICT (name) DO UPDATE SET updated_at = now()
        RETURNING id
        """,
        project_id,
        name,
    )
    return repo_id


async def list_names(db: Executor, last: str | None, limit: int) -> list[str]:
    """Repository names in byte-wise lexical order after ``last``."""
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT name FROM repositories
        WHERE $1::text IS NULL OR name COLLATE "C" > $1::text COLLATE "C"
        ORDER BY name COLLATE "C"
        LIMIT $2
        """,
        last,
        limit,
    )
    return [r["name"] for r in rows]
