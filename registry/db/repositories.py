"""Repositories inside projects."""

from __future__ import annotations

import asyncpg

from registry.db.paging import fetch_page
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


_DETAIL_COLUMNS = """
    r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at,
    (SELECT count(*) FROM artifacts a WHERE a.repository_id = r.id) AS artifact_count
"""
_DETAIL_FROM = "FROM repositories r JOIN projects p ON p.id = r.project_id"
_DETAIL = f"SELECT {_DETAIL_COLUMNS} {_DETAIL_FROM}"


async def get_detail(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(_DETAIL + " WHERE r.name = $1", name)


async def list_detail(
    db: Executor, where: str, order_by: str, params: list[object], limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        db, _DETAIL_COLUMNS, f"{_DETAIL_FROM} {where}", order_by, params, limit, offset
    )


async def set_description(db: Executor, repository_id: int, description: str) -> None:
    await db.execute(
        "UPDATE repositories SET description = $2, updated_at = now() WHERE id = $1",
        repository_id,
        description,
    )


async def delete(db: Executor, repository_id: int) -> None:
    await db.execute("DELETE FROM repositories WHERE id = $1", repository_id)


async def add_pulls(db: Executor, counts: dict[int, int]) -> None:
    await db.executemany(
        "UPDATE repositories SET pull_count = pull_count + $2 WHERE id = $1",
        list(counts.items()),
    )
