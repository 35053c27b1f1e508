"""What tables of per-project rules (immutable tag rules, webhook policies) share: rows are
made, read, listed, changed and deleted by project and id, so an id of another project is never
found, and a row that would repeat a unique key of its project is refused, not raised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from registry.db.pool import Executor
from registry.db.query import ColumnMap, list_rows
from registry.query import ListQuery


async def insert(
    db: Executor, table: str, project_id: int, values: Mapping[str, Any]
) -> int | None:
    """The new row's id, or None when it repeats a unique key of the project's rows.
    ``table`` and the keys of ``values`` are column names written in Berth."""
    names = ", ".join(("project_id", *values))
    params = ", ".join(f"${i}" for i in range(1, len(values) + 2))
    row_id: int | None = await db.fetchval(
        f"INSERT INTO {table} ({names}) VALUES ({params}) "  # noqa: S608 — constant names
        "ON CONFLICT DO NOTHING RETURNING id",
        project_id,
        *values.values(),
    )
    return row_id


async def update(
    db: Executor, table: str, project_id: int, row_id: int, values: Mapping[str, Any]
) -> bool | None:
    """True when updated, False when the project has no such row, None when the change would
    repeat a unique key of another of the project's rows."""
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=3))
    try:
        status: str = await db.execute(
            f"UPDATE {table} SET {assignments}, updated_at = now() "  # noqa: S608 — constant names
            "WHERE project_id = $1 AND id = $2",
            project_id,
            row_id,
            *values.values(),
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


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
