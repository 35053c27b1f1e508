"""One page of rows and the total count, for the management API's lists."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def fetch_page(
    db: Executor,
    columns: str,
    from_where: str,
    order_by: str,
    params: list[object],
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """``SELECT columns from_where order_by`` limited to one page, and the count of all rows.

    ``from_where`` holds only SQL written in Berth and ``$n`` placeholders; every value is in
    ``params``.
    """
    n = len(params)
    rows = await db.fetch(
        f"SELECT {columns} {from_where} {order_by} LIMIT ${n + 1} OFFSET ${n + 2}",
        *params,
        limit,
        offset,
    )
    total: int = await db.fetchval(f"SELECT count(*) {from_where}", *params)
    return rows, total
