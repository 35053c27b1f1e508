"""What tables of per-project rules (immutable tag rules, webhook policies) share: rows are
read, listed and deleted by project and id, so an id of another project is never found."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.query import ColumnMap, list_rows
from registry.query import ListQuery


async def get(
    db: Executor, table: str, columns: str, project_id: int, row_id: int
) -> asyncpg.Record | None:
    """``table`` and ``columns`` are constants written in Berth."""
    return await db.fetchrow(
        f"SELECT {columns} FROM {table} WHERE project_id = $1 AND id = $2",  # noqa: S608 — constant table and columns
        project_id,
        row_id,
    )


async def list_in_project(
    db: Executor,
    table: str,
    columns: str,
    column_map: ColumnMap,
    project_id: int,
    query: ListQuery,
) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=columns,
        source=f"FROM {table}",
        columns=column_map,
        query=query,
        default_order="id",
        scope=[("project_id = {}", project_id)],
    )


async def delete(db: Executor, table: str, project_id: int, row_id: int) -> bool:
    status: str = await db.execute(
        f"DELETE FROM {table} WHERE project_id = $1 AND id = $2",  # noqa: S608 — constant table
        project_id,
        row_id,
    )
    return status == "DELETE 1"
