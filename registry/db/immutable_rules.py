"""Immutable tag rules: per project, which tags of which repositories may not change."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.paging import fetch_page
from registry.db.pool import Executor

_COLUMNS = (
    "id, project_id, disabled, priority, template, tag_selectors, scope_selectors, "
    "created_at, updated_at"
)


async def create(
    db: Executor,
    project_id: int,
    *,
    disabled: bool,
    priority: int,
    tag_selectors: list[dict[str, Any]],
    scope_selectors: dict[str, list[dict[str, Any]]],
) -> int | None:
    """The new rule's id, or None when the project has a rule with the same selectors."""
    rule_id: int | None = await db.fetchval(
        """
        INSERT INTO immutable_rules (project_id, disabled, priority, tag_selectors, scope_selectors)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        project_id,
        disabled,
        priority,
        tag_selectors,
        scope_selectors,
    )
    return rule_id


async def get(db: Executor, project_id: int, rule_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM immutable_rules WHERE project_id = $1 AND id = $2",  # noqa: S608 — constant columns
        project_id,
        rule_id,
    )


async def list_for_project(
    db: Executor, where: str, order_by: str, params: list[object], limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """Rules matching a WHERE clause built by the API's SqlFilter (values as params)."""
    from_where = f"FROM immutable_rules {where}"
    return await fetch_page(db, _COLUMNS, from_where, order_by, params, limit, offset)


async def enabled_for_project(db: Executor, project_id: int) -> list[asyncpg.Record]:
    """The rules that are in force, as the push and delete paths read them."""
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM immutable_rules "  # noqa: S608 — constant columns
        "WHERE project_id = $1 AND NOT disabled ORDER BY priority, id",
        project_id,
    )


async def update(
    db: Executor,
    project_id: int,
    rule_id: int,
    *,
    disabled: bool,
    priority: int,
    tag_selectors: list[dict[str, Any]],
    scope_selectors: dict[str, list[dict[str, Any]]],
) -> bool | None:
    """True when updated, False when the project has no such rule, None when another rule of
    the project already has these selectors."""
    try:
        status: str = await db.execute(
            """
            UPDATE immutable_rules
            SET disabled = $3, priority = $4, tag_selectors = $5, scope_selectors = $6,
                updated_at = now()
            WHERE project_id = $1 AND id = $2
            """,
            project_id,
            rule_id,
            disabled,
            priority,
            tag_selectors,
            scope_selectors,
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


async def delete(db: Executor, project_id: int, rule_id: int) -> bool:
    status: str = await db.execute(
        "DELETE FROM immutable_rules WHERE project_id = $1 AND id = $2", project_id, rule_id
    )
    return status == "DELETE 1"
