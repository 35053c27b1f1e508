"""Projects: the first segment of every repository name."""

from __future__ import annotations

import asyncpg

from registry.db.paging import fetch_page
from registry.db.pool import Executor


async def get_by_name(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, owner_id, created_at FROM projects WHERE name = $1", name
    )


async def get_by_id(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, owner_id, created_at FROM projects WHERE id = $1", project_id
    )


async def create(
    db: Executor,
    name: str,
    *,
    public: bool = False,
    owner_id: int | None = None,
    metadata: dict[str, str] | None = None,
) -> int | None:
    """The new project's id, or None when the name is taken."""
    meta = {"public": "true" if public else "false", **(metadata or {})}
    project_id: int | None = await db.fetchval(
        """
        INSERT INTO projects (name, public, owner_id, metadata) VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """,
        name,
        public,
        owner_id,
        meta,
    )
    return project_id


async def public_holders_of_blob(
    db: Executor, digest: str, limit: int = 50
) -> list[asyncpg.Record]:
    """Projects that hold ``digest`` (name, public), for deciding an automatic mount."""
    return await db.fetch(
        """
        SELECT p.id, p.name, p.public FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.id
        JOIN projects p ON p.id = pb.project_id
        WHERE b.digest = $1
        ORDER BY p.public DESC, p.id
        LIMIT $2
        """,
        digest,
        limit,
    )


_PROJECT_COLUMNS = """
    p.id, p.name, p.public, p.owner_id, p.metadata, p.created_at, p.updated_at,
    u.username AS owner_name,
    (SELECT count(*) FROM repositories r WHERE r.project_id = p.id) AS repo_count
"""


async def get_detail(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id "  # noqa: S608
        "WHERE p.id = $1",
        project_id,
    )


async def list_detail(
    db: Executor, where: str, order_by: str, params: list[object], limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """Projects matching a WHERE clause built by the API's SqlFilter (values as params)."""
    from_where = f"FROM projects p LEFT JOIN users u ON u.id = p.owner_id {where}"
    return await fetch_page(db, _PROJECT_COLUMNS, from_where, order_by, params, limit, offset)


async def update_metadata(
    db: Executor, project_id: int, metadata: dict[str, str], public: bool
) -> None:
    await db.execute(
        "UPDATE projects SET metadata = $2, public = $3, updated_at = now() WHERE id = $1",
        project_id,
        metadata,
        public,
    )


async def delete(db: Executor, project_id: int) -> None:
    await db.execute("DELETE FROM projects WHERE id = $1", project_id)
