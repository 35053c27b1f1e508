"""Immutable tag rules: per project, which tags of which repositories may not change."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db import per_project
from registry.db.pool import Executor
from registry.db.query import Column, ColumnMap
from registry.query import ListQuery

_TABLE = "immutable_rules"
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
    return await per_project.insert(
        db,
        _TABLE,
        project_id,
        {
            "disabled": disabled,
            "priority": priority,
            "tag_selectors": tag_selectors,
            "scope_selectors": scope_selectors,
        },
    )


async def get(db: Executor, project_id: int, rule_id: int) -> asyncpg.Record | None:
    return await per_project.get(db, _TABLE, _COLUMNS, project_id, rule_id)


LIST_COLUMNS: ColumnMap = {
    "id": Column("id", "bigint"),
    "priority": Column("priority", "int"),
    "disabled": Column("disabled", "bool"),
    "creation_time": Column("created_at", "timestamptz"),
    "update_time": Column("updated_at", "timestamptz"),
}


async def list_for_project(
    db: Executor, project_id: int, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await per_project.list_in_project(db, _TABLE, _COLUMNS, LIST_COLUMNS, project_id, query)


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
    return await per_project.update(
        db,
        _TABLE,
        project_id,
        rule_id,
        {
            "disabled": disabled,
            "priority": priority,
            "tag_selectors": tag_selectors,
            "scope_selectors": scope_selectors,
        },
    )


async def delete(db: Executor, project_id: int, rule_id: int) -> bool:
    return await per_project.delete(db, _TABLE, project_id, rule_id)
