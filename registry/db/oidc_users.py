"""Users known to an OpenID Connect provider, and their CLI secrets."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def get(db: Executor, user_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT user_id, subject, secret_hash, secret_sealed, created_at, updated_at "
        "FROM oidc_users WHERE user_id = $1",
        user_id,
    )


async def user_for_subject(db: Executor, subject: str) -> int | None:
    user_id: int | None = await db.fetchval(
        "SELECT user_id FROM oidc_users WHERE subject = $1", subject
    )
    return user_id


async def link(db: Executor, user_id: int, subject: str) -> None:
    await db.execute(
        "INSERT INTO oidc_users (user_id, subject) VALUES ($1, $2) "
        "ON CONFLICT (user_id) DO UPDATE SET subject = EXCLUDED.subject, updated_at = now()",
        user_id,
        subject,
    )


async def set_secret(db: Executor, user_id: int, secret_hash: str, sealed: str) -> bool:
    status: str = await db.execute(
        "UPDATE oidc_users SET secret_hash = $2, secret_sealed = $3, updated_at = now() "
        "WHERE user_id = $1",
        user_id,
        secret_hash,
        sealed,
    )
    return status == "UPDATE 1"
