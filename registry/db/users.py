"""User accounts: local ones and those onboarded from LDAP."""

from __future__ import annotations

import asyncpg

from registry.db import account
from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

_COLUMNS = (
    "id, username, email, realname, comment, password_hash, sysadmin, source, external_id, "
    "created_at, updated_at"
)


async def get_by_username(db: Executor, username: str) -> asyncpg.Record | None:
    return await account.find(db, "users", _COLUMNS, "username", username)


async def get(db: Executor, user_id: int) -> asyncpg.Record | None:
    return await account.find(db, "users", _COLUMNS, "id", user_id)


async def create(
    db: Executor,
    username: str,
    password_hash: str | None,
    *,
    sysadmin: bool = False,
    email: str | None = None,
    realname: str = "",
    comment: str = "",
    source: str = "db",
    external_id: str | None = None,
) -> int:
    user_id: int = await db.fetchval(
        """
        INSERT INTO users (username, password_hash, sysadmin, email, realname, comment, source,
                           external_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
        """,
        username,
        password_hash,
        sysadmin,
        email,
        realname,
        comment,
        source,
        external_id,
    )
    return user_id


async def onboard_external(
    db: Executor,
    username: str,
    *,
    email: str | None,
    realname: str,
    source: str,
    external_id: str | None,
) -> asyncpg.Record:
    """Create or refresh the local record of a user an external backend authenticated."""
    row = await db.fetchrow(
        f"""
        INSERT INTO users (username, email, realname, source, external_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (username) DO UPDATE
            SET email = COALESCE(EXCLUDED.email, users.email),
                realname = EXCLUDED.realname,
                external_id = EXCLUDED.external_id,
                updated_at = now()
        RETURNING {_COLUMNS}
        """,  # noqa: S608 — constant columns
        username,
        email,
        realname,
        source,
        external_id,
    )
    assert row is not None
    return row


# The q keys a user list accepts.
LIST_COLUMNS: ColumnMap = {"username": Column("username")}


async def list_users(db: Executor, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_COLUMNS,
        source="FROM users",
        columns=LIST_COLUMNS,
        query=query.without_sort(),
        default_order="id",
    )


async def update_profile(
    db: Executor, user_id: int, email: str | None, realname: str | None, comment: str | None
) -> None:
    await db.execute(
        """
        UPDATE users SET email = COALESCE($2, email), realname = COALESCE($3, realname),
                         comment = COALESCE($4, comment), updated_at = now()
        WHERE id = $1
        """,
        user_id,
        email,
        realname,
        comment,
    )


async def set_password(db: Executor, user_id: int, password_hash: str) -> None:
    await db.execute(
        "UPDATE users SET password_hash = $2, password_changed_at = now(), updated_at = now() "
        "WHERE id = $1",
        user_id,
        password_hash,
    )


async def set_sysadmin(db: Executor, user_id: int, sysadmin: bool) -> None:
    await db.execute(
        "UPDATE users SET sysadmin = $2, updated_at = now() WHERE id = $1", user_id, sysadmin
    )


async def delete(db: Executor, user_id: int) -> bool:
    return await account.delete(db, "users", user_id)


async def set_groups(db: Executor, user_id: int, group_ids: list[int]) -> None:
    await db.execute(
        "DELETE FROM user_group_members WHERE user_id = $1 AND NOT (group_id = ANY($2::bigint[]))",
        user_id,
        group_ids,
    )
    await db.execute(
        """
        INSERT INTO user_group_members (user_id, group_id)
        SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
        """,
        user_id,
        group_ids,
    )


async def group_ids(db: Executor, user_id: int) -> tuple[int, ...]:
    rows = await db.fetch("SELECT group_id FROM user_group_members WHERE user_id = $1", user_id)
    return tuple(r["group_id"] for r in rows)
