"""A project's metadata (its Harbor settings, string to string), read for a change."""

from __future__ import annotations

from registry.db.pool import Executor


async def lock(db: Executor, project_id: int) -> dict[str, str] | None:
    """The project's metadata, its row locked until the transaction ends (None: no project)."""
    row = await db.fetchrow("SELECT metadata FROM projects WHERE id = $1 FOR UPDATE", project_id)
    if row is None:
        return None
    return dict(row["metadata"] or {})
