"""Remote registries that replication policies and proxy projects name."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

_COLUMNS = (
    "id, name, description, type, url, credential_type, access_key, access_secret, insecure, "
    "status, webhook_secret, created_at, updated_at"
)

LIST_COLUMNS: ColumnMap = {
    "id": Column("id", "bigint"),
    "name": Column("name"),
    "type": Column("type"),
    "url": Column("url"),
    "status": Column("status"),
    "creation_time": Column("created_at", "timestamptz"),
    "update_time": Column("updated_at", "timestamptz"),
}

FIELDS = (
    "name",
    "description",
    "type",
    "url",
    "credential_type",
    "access_key",
    "access_secret",
    "insecure",
    "webhook_secret",
)


async def create(db: Executor, fields: dict[str, Any]) -> int | None:
    """The new registry's id, or None when the name is taken."""
    registry_id: int | None = await db.fetchval(
        """
        INSERT INTO replication_registries
            (name, description, type, url, credential_type, access_key, access_secret,
             insecure, webhook_secret)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """,
        *(fields[f] for f in FIELDS),
    )
    return registry_id


async def get(db: Executor, registry_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM replication_registries WHERE id = $1",  # noqa: S608 — constant columns
        registry_id,
    )


async def all_rows(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM replication_registries ORDER BY id"  # noqa: S608 — constant columns
    )


async def list_registries(db: Executor, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_COLUMNS,
        source="FROM replication_registries",
        columns=LIST_COLUMNS,
        query=query,
        default_order="id",
    )


async def update(db: Executor, registry_id: int, fields: dict[str, Any]) -> bool | None:
    """True when updated, False when there is no such registry, None when the name is taken."""
    try:
        status: str = await db.execute(
            """
            UPDATE replication_registries
            SET name = $2, description = $3, type = $4, url = $5, credential_type = $6,
                access_key = $7, access_secret = $8, insecure = $9, webhook_secret = $10,
                updated_at = now()
            WHERE id = $1
            """,
            registry_id,
            *(fields[f] for f in FIELDS),
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


async def set_status(db: Executor, registry_id: int, status: str) -> None:
    await db.execute(
        "UPDATE replication_registries SET status = $2 WHERE id = $1", registry_id, status
    )


async def in_use(db: Executor, registry_id: int) -> bool:
    used: bool = await db.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM replication_policies
                       WHERE src_registry_id = $1 OR dest_registry_id = $1)
        """,
        registry_id,
    )
    return used


async def delete(db: Executor, registry_id: int) -> bool:
    status: str = await db.execute("DELETE FROM replication_registries WHERE id = $1", registry_id)
    return status == "DELETE 1"


async def proxied_by(db: Executor, project_id: int) -> int | None:
    """The registry a proxy-cache project caches, or None for an ordinary project."""
    registry_id: int | None = await db.fetchval(
        "SELECT registry_id FROM projects WHERE id = $1", project_id
    )
    return registry_id


async def set_proxied(db: Executor, project_id: int, registry_id: int) -> None:
    await db.execute("UPDATE projects SET registry_id = $2 WHERE id = $1", project_id, registry_id)


async def proxy_projects(db: Executor, registry_id: int) -> bool:
    used: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM projects WHERE registry_id = $1)", registry_id
    )
    return used
