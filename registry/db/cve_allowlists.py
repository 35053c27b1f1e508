"""CVE allowlists: the system's (project NULL) and each project's."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor


async def get(db: Executor, project_id: int | None) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, project_id, items, expires_at, created_at, updated_at FROM cve_allowlists "
        "WHERE project_id IS NOT DISTINCT FROM $1",
        project_id,
    )


async def put(
    db: Executor, project_id: int | None, items: list[dict[str, Any]], expires_at: int | None
) -> None:
    updated = await db.execute(
        "UPDATE cve_allowlists SET items = $2, expires_at = $3, updated_at = now() "
        "WHERE project_id IS NOT DISTINCT FROM $1",
        project_id,
        items,
        expires_at,
    )
    if updated == "UPDATE 0":
        # Two unique indexes (one per project, one system row) settle a race: the loser's
        # insert does nothing.
        await db.execute(
            "INSERT INTO cve_allowlists (project_id, items, expires_at) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            project_id,
            items,
            expires_at,
        )
