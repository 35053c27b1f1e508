"""User groups (LDAP groups by DN, OIDC and HTTP groups by name), as Harbor's /usergroups
keeps them."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

_COLUMNS = "id, group_name, group_type, ldap_group_dn, created_at, updated_at"


async def ids_for_dns(db: Executor, dns: list[str]) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM user_groups WHERE lower(ldap_group_dn) = ANY($1::text[])",
        [dn.lower() for dn in dns],
    )
    return [r["id"] for r in rows]


async def ensure_named(db: Executor, group_type: int, names: list[str]) -> list[int]:
    """The ids of the groups of this type with these names (groups known by name, not DN),
    making those that do not exist yet."""
    if not names:
        return []
    await db.execute(
        """
        INSERT INTO user_groups (group_name, group_type)
        SELECT DISTINCT unnest($2::text[]), $1::integer ON CONFLICT DO NOTHING
        """,
        group_type,
        names,
    )
    rows = await db.fetch(
        "SELECT id FROM user_groups WHERE group_type = $1 AND ldap_group_dn IS NULL "
        "AND group_name = ANY($2::text[])",
        group_type,
        names,
    )
    return [r["id"] for r in rows]


async def get(db: Executor, group_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM user_groups WHERE id = $1",  # noqa: S608 — constant columns
        group_id,
    )


async def find_by_dn(db: Executor, dn: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM user_groups WHERE lower(ldap_group_dn) = lower($1)",  # noqa: S608
        dn,
    )


LIST_COLUMNS: ColumnMap = {"group_name": Column("group_name")}


async def list_groups(db: Executor, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_COLUMNS,
        source="FROM user_groups",
        columns=LIST_COLUMNS,
        query=query,
        default_order="id",
    )


async def create(db: Executor, name: str, group_type: int, ldap_group_dn: str | None) -> int | None:
    group_id: int | None = await db.fetchval(
        """
        INSERT INTO user_groups (group_name, group_type, ldap_group_dn) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        name,
        group_type,
        ldap_group_dn,
    )
    return group_id


async def rename(db: Executor, group_id: int, name: str) -> bool:
    status: str = await db.execute(
        "UPDATE user_groups SET group_name = $2, updated_at = now() WHERE id = $1", group_id, name
    )
    return status == "UPDATE 1"


async def delete(db: Executor, group_id: int) -> bool:
    status: str = await db.execute("DELETE FROM user_groups WHERE id = $1", group_id)
    return status == "DELETE 1"
