"""Project members: users and groups with a role in a project."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap, list_rows
from registry.query import ListQuery


async def roles_of(
    db: Executor, project_id: int, user_id: int | None, group_ids: tuple[int, ...]
) -> list[int]:
    """Every role the user holds in the project, directly or through a group."""
    rows = await db.fetch(
        """
        SELECT role FROM project_members
        WHERE project_id = $1
          AND ((entity_type = 'u' AND entity_id = $2)
               OR (entity_type = 'g' AND entity_id = ANY($3::bigint[])))
        """,
        project_id,
        user_id,
        list(group_ids),
    )
    return [r["role"] for r in rows]


_MEMBER_COLUMNS = """
    m.id, m.project_id, m.entity_type, m.entity_id, m.role, m.created_at, m.updated_at,
    COALESCE(u.username, g.group_name) AS entity_name
"""
_MEMBER_SOURCE = """
    FROM project_members m
    LEFT JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id
    LEFT JOIN user_groups g ON m.entity_type = 'g' AND g.id = m.entity_id
"""
_SELECT = f"SELECT {_MEMBER_COLUMNS} {_MEMBER_SOURCE}"

LIST_COLUMNS: ColumnMap = {"entityname": Column("COALESCE(u.username, g.group_name)")}


async def list_for_project(
    db: Executor, project_id: int, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await list_rows(
        db,
        select=_MEMBER_COLUMNS,
        source=_MEMBER_SOURCE,
        columns=LIST_COLUMNS,
        query=query,
        default_order="m.id",
        scope=[("m.project_id = {}", project_id)],
    )


async def get(db: Executor, project_id: int, member_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        _SELECT + " WHERE m.project_id = $1 AND m.id = $2",
        project_id,
        member_id,
    )


async def add(
    db: Executor, project_id: int, entity_type: str, entity_id: int, role: int
) -> int | None:
    """The new member's id, or None when the entity is already a member."""
    member_id: int | None = await db.fetchval(
        """
        INSERT INTO project_members (project_id, entity_type, entity_id, role)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id
        """,
        project_id,
        entity_type,
        entity_id,
        role,
    )
    return member_id


async def update_role(db: Executor, project_id: int, member_id: int, role: int) -> bool:
    status: str = await db.execute(
        "UPDATE project_members SET role = $3, updated_at = now() "
        "WHERE project_id = $1 AND id = $2",
        project_id,
        member_id,
        role,
    )
    return status == "UPDATE 1"


async def remove(db: Executor, project_id: int, member_id: int) -> bool:
    status: str = await db.execute(
        "DELETE FROM project_members WHERE project_id = $1 AND id = $2", project_id, member_id
    )
    return status == "DELETE 1"


async def remove_entity(db: Executor, entity_type: str, entity_id: int) -> None:
    await db.execute(
        "DELETE FROM project_members WHERE entity_type = $1 AND entity_id = $2",
        entity_type,
        entity_id,
    )


async def holds_role_anywhere(
    db: Executor, role: int, user_id: int, group_ids: tuple[int, ...]
) -> bool:
    """Whether the user holds ``role`` in some project, directly or through a group."""
    found: bool = await db.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM project_members WHERE role = $1
          AND ((entity_type = 'u' AND entity_id = $2)
               OR (entity_type = 'g' AND entity_id = ANY($3::bigint[]))))
        """,
        role,
        user_id,
        list(group_ids),
    )
    return found
