"""Robot accounts and their per-project permissions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from registry.db import account
from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery

_COLUMNS = (
    "id, name, description, level, project_id, secret_hash, disabled, duration, expires_at, "
    "creator, created_at, updated_at"
)


async def get_by_name(db: Executor, name: str) -> asyncpg.Record | None:
    return await account.find(db, "robots", _COLUMNS, "name", name)


async def get(db: Executor, robot_id: int) -> asyncpg.Record | None:
    return await account.find(db, "robots", _COLUMNS, "id", robot_id)


async def create(
    db: Executor,
    *,
    name: str,
    description: str,
    level: str,
    project_id: int | None,
    secret_hash: str,
    disabled: bool,
    duration: int,
    expires_at: datetime | None,
    creator: str,
) -> int | None:
    robot_id: int | None = await db.fetchval(
        """
        INSERT INTO robots (name, description, level, project_id, secret_hash, disabled,
                            duration, expires_at, creator)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (name) DO NOTHING RETURNING id
        """,
        name,
        description,
        level,
        project_id,
        secret_hash,
        disabled,
        duration,
        expires_at,
        creator,
    )
    return robot_id


async def set_permissions(db: Executor, robot_id: int, permissions: list[dict[str, Any]]) -> None:
    """Replace the robot's permissions: each with ``kind``, ``namespace`` (a project's name or
    ``*``), ``project_id`` (None for ``*``) and ``access``."""
    await db.execute("DELETE FROM robot_permissions WHERE robot_id = $1", robot_id)
    await db.executemany(
        "INSERT INTO robot_permissions "
        "(robot_id, kind, namespace, project_id, access, repository_pattern) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                robot_id,
                p["kind"],
                p["namespace"],
                p["project_id"],
                p["access"],
                p.get("repository_pattern"),
            )
            for p in permissions
        ],
    )


async def permissions(db: Executor, robot_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    rows = await db.fetch(
        "SELECT robot_id, kind, namespace, access FROM robot_permissions "
        "WHERE robot_id = ANY($1::bigint[]) ORDER BY namespace",
        robot_ids,
    )
    found: dict[int, list[asyncpg.Record]] = {i: [] for i in robot_ids}
    for row in rows:
        found[row["robot_id"]].append(row)
    return found


def _no_pattern(pattern: str) -> bool:
    return False


async def access_in(
    db: Executor,
    robot_id: int,
    project_id: int,
    pattern_applies: Callable[[str], bool] = _no_pattern,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (resource, action) pairs the robot is allowed, and those it is denied, in the
    project with this id (its entries for that project and for every project). An entry
    limited to a repository pattern counts only where ``pattern_applies`` to its pattern."""
    return access_of(await permission_rows(db, robot_id, project_id), pattern_applies)


async def permission_rows(db: Executor, robot_id: int, project_id: int) -> list[asyncpg.Record]:
    """The robot's entries for the project with this id and for every project."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT access, repository_pattern FROM robot_permissions "
        "WHERE robot_id = $1 AND kind = 'project' AND (project_id = $2 OR namespace = '*')",
        robot_id,
        project_id,
    )
    return rows


def access_of(
    rows: list[asyncpg.Record], pattern_applies: Callable[[str], bool] = _no_pattern
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The allowed and the denied (resource, action) pairs of ``permission_rows``."""
    allow: list[tuple[str, str]] = []
    deny: list[tuple[str, str]] = []
    for row in rows:
        if row["repository_pattern"] is not None and not pattern_applies(row["repository_pattern"]):
            continue
        for item in row["access"]:
            pair = (str(item.get("resource")), str(item.get("action")))
            (deny if item.get("effect", "allow") == "deny" else allow).append(pair)
    return allow, deny


async def project_ids_of(db: Executor, robot_id: int) -> list[int] | None:
    """The projects the robot holds project permissions in (None: every project)."""
    rows = await db.fetch(
        "SELECT DISTINCT project_id, namespace FROM robot_permissions "
        "WHERE robot_id = $1 AND kind = 'project'",
        robot_id,
    )
    if any(r["namespace"] == "*" for r in rows):
        return None
    return sorted(r["project_id"] for r in rows if r["project_id"] is not None)


# The q keys a robot list accepts, with Harbor's names; a name matches as a substring.
LIST_COLUMNS: ColumnMap = {
    "Level": Column("level"),
    "ProjectID": Column("project_id", "bigint"),
    "name": Column("name", exact_is_contains=True),
}


async def list_robots(db: Executor, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_COLUMNS,
        source="FROM robots",
        columns=LIST_COLUMNS,
        query=query,
        default_order="id",
    )


async def update(
    db: Executor,
    robot_id: int,
    *,
    description: str,
    disabled: bool,
    duration: int,
    expires_at: datetime | None,
) -> None:
    await db.execute(
        """
        UPDATE robots SET description = $2, disabled = $3, duration = $4, expires_at = $5,
                          updated_at = now()
        WHERE id = $1
        """,
        robot_id,
        description,
        disabled,
        duration,
        expires_at,
    )


async def set_secret(db: Executor, robot_id: int, secret_hash: str) -> None:
    await db.execute(
        "UPDATE robots SET secret_hash = $2, updated_at = now() WHERE id = $1",
        robot_id,
        secret_hash,
    )


async def delete(db: Executor, robot_id: int) -> bool:
    return await account.delete(db, "robots", robot_id)
