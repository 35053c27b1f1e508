"""The cosign public keys a project trusts."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def list_keys(db: Executor, project_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT id, project_id, name, public_key, created_at FROM cosign_keys "
        "WHERE project_id = $1 ORDER BY id",
        project_id,
    )


async def add(db: Executor, project_id: int, name: str, public_key: str) -> int | None:
    """The new key's id; None when the project has a key of that name already."""
    key_id: int | None = await db.fetchval(
        "INSERT INTO cosign_keys (project_id, name, public_key) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING id",
        project_id,
        name,
        public_key,
    )
    return key_id


async def delete(db: Executor, project_id: int, key_id: int) -> bool:
    status: str = await db.execute(
        "DELETE FROM cosign_keys WHERE project_id = $1 AND id = $2", project_id, key_id
    )
    return status == "DELETE 1"
