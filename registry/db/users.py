"""Local user accounts."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def get_by_username(db: Executor, username: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, username, password_hash, sysadmin FROM users WHERE username = $1", username
    )


async def create(db: Executor, username: str, password_hash: str, *, sysadmin: bool = False) -> int:
    user_id: int = await db.fetchval(
        "INSERT INTO users (username, password_hash, sysadmin) VALUES ($1, $2, $3) RETURNING id",
        username,
        password_hash,
        sysadmin,
    )
    return user_id
