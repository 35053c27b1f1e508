"""Storage quotas: one per project; usage is the deduplicated size of the project's blobs."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery


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


_USED = """(SELECT COALESCE(sum(b.size), 0)::bigint FROM project_blobs pb
            JOIN blobs b ON b.id = pb.blob_id WHERE pb.project_id = q.project_id)"""
_QUOTA_COLUMNS = f"""
    q.id, q.project_id, q.hard_storage, q.created_at, q.updated_at, p.name AS project_name,
    u.username AS owner_name, {_USED} AS used_storage
"""
_QUOTA_SOURCE = (
    "FROM quotas q JOIN projects p ON p.id = q.project_id LEFT JOIN users u ON u.id = p.owner_id"
)

# Quotas are listed by project (reference_id), not by q; these are the sort keys.
LIST_COLUMNS: ColumnMap = {
    "hard.storage": Column("q.hard_storage", "bigint"),
    "used.storage": Column(_USED, "bigint"),
    "creation_time": Column("q.created_at", "timestamptz"),
}


async def get(db: Executor, quota_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_QUOTA_COLUMNS} {_QUOTA_SOURCE} WHERE q.id = $1",
        quota_id,
    )


async def list_quotas(
    db: Executor, project_id: int | None, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """All quotas, or the one of ``project_id``."""
    return await list_rows(
        db,
        select=_QUOTA_COLUMNS,
        source=_QUOTA_SOURCE,
        columns=LIST_COLUMNS,
        query=query,
        default_order="q.id",
        scope=[("q.project_id = {}", project_id)] if project_id is not None else [],
    )


async def set_hard(db: Executor, quota_id: int, hard_storage: int) -> bool:
    status: str = await db.execute(
        "UPDATE quotas SET hard_storage = $2, updated_at = now() WHERE id = $1",
        quota_id,
        hard_storage,
    )
    return status == "UPDATE 1"
