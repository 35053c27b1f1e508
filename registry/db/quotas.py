"""Storage quotas: one per project; usage is the deduplicated size of the project's blobs."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def ensure(db: Executor, project_id: int, hard_storage: int = -1) -> None:
    await db.execute(
        "INSERT INTO quotas (project_id, hard_storage) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        project_id,
        hard_storage,
    )


async def usage(db: Executor, project_id: int) -> int:
    used: int = await db.fetchval(
        """
        SELECT COALESCE(sum(b.size), 0)::bigint FROM project_blobs pb
        JOIN blobs b ON b.id = pb.blob_id WHERE pb.project_id = $1
        """,
        project_id,
    )
    return used


async def hard_limit(db: Executor, project_id: int) -> int:
    hard: int | None = await db.fetchval(
        "SELECT hard_storage FROM quotas WHERE project_id = $1", project_id
    )
    return -1 if hard is None else hard


_SELECT = """
    SELECT q.id, q.project_id, q.hard_storage, q.created_at, q.updated_at, p.name AS project_name,
           u.username AS owner_name,
           (SELECT COALESCE(sum(b.size), 0)::bigint FROM project_blobs pb
            JOIN blobs b ON b.id = pb.blob_id WHERE pb.project_id = q.project_id) AS used_storage
    FROM quotas q JOIN projects p ON p.id = q.project_id LEFT JOIN users u ON u.id = p.owner_id
"""


async def get(db: Executor, quota_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_SELECT + " WHERE q.id = $1", quota_id)


async def search(
    db: Executor, project_ids: list[int] | None, limit: int, offset: int, order_by: str
) -> tuple[list[asyncpg.Record], int]:
    where = "WHERE ($1::bigint[] IS NULL OR q.project_id = ANY($1::bigint[]))"
    rows = await db.fetch(
        f"{_SELECT} {where} {order_by} LIMIT $2 OFFSET $3",
        project_ids,
        limit,
        offset,
    )
    total: int = await db.fetchval(
        f"SELECT count(*) FROM quotas q {where}",  # noqa: S608 — constant SQL
        project_ids,
    )
    return rows, total


async def set_hard(db: Executor, quota_id: int, hard_storage: int) -> bool:
    status: str = await db.execute(
        "UPDATE quotas SET hard_storage = $2, updated_at = now() WHERE id = $1",
        quota_id,
        hard_storage,
    )
    return status == "UPDATE 1"
