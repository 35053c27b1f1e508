"""What the account tables (users, robots) share: a row found by id or by its unique name,
removed by id. Table, column and key names are constants of the calling module."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def find(
    db: Executor, table: str, columns: str, key: str, value: object
) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {columns} FROM {table} WHERE {key} = $1",  # noqa: S608 — constant names only
        value,
    )


async def delete(db: Executor, table: str, row_id: int) -> bool:
    status: str = await db.execute(f"DELETE FROM {table} WHERE id = $1", row_id)  # noqa: S608
    return status == "DELETE 1"
