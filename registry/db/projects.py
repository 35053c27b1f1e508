"""Projects: the first segment of every repository name."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def get_by_name(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, owner_id, created_at FROM projects WHERE name = $1", name
    )


async def create(
    db: Executor, name: str, *, public: bool = False, owner_id: int | None = None
) -> int:
    """Create the project unless it exists; return its id either way."""
    project_id: int = await db.fetchval(
        """
        INSERT INTO projects (name, public, owner_id) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
        RETURNING id
        """,
        name,
        public,
        owner_id,
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
