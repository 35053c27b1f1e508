"""The audit log: who did what to which resource, when."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.project_scope import add_project_scope
from registry.db.query import Clauses, Column, ColumnMap, fetch_listed
from registry.query import ListQuery, ProjectScope


async def record(
    db: Executor,
    *,
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    project_id: int | None = None,
) -> None:
    await db.execute(
        """
        INSERT INTO audit_logs (project_id, operation, resource_type, resource, username)
        VALUES ($1, $2, $3, $4, $5)
        """,
        project_id,
        operation,
        resource_type,
        resource,
        username,
    )


# (project_id, operation, resource_type, resource, username)
Row = tuple[int | None, str, str, str, str]


async def record_many(db: Executor, rows: list[Row]) -> None:
    """Insert audit rows ``(project_id, operation, resource_type, resource, username)`` in
    one statement (one round trip and one plan, however many rows)."""
    await db.execute(
        """
        INSERT INTO audit_logs (project_id, operation, resource_type, resource, username)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
        """,
        *(list(column) for column in zip(*rows, strict=True)),
    )


LIST_COLUMNS: ColumnMap = {
    "operation": Column("a.operation"),
    "resource_type": Column("a.resource_type"),
    "resource": Column("a.resource"),
    "username": Column("a.username"),
    "op_time": Column("a.op_time", "timestamptz"),
}


async def list_logs(
    db: Executor, query: ListQuery, scope: ProjectScope, project_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    """Records of projects in ``scope`` (of ``project_id`` only, when given), newest first
    unless sorted otherwise. Records of no project are in the scope of everything only."""
    clauses = Clauses(LIST_COLUMNS)
    if project_id is not None:
        clauses.add(f"a.project_id = {clauses.param(project_id)}")
    add_project_scope(clauses, scope, "a.project_id")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select="a.*",
        source="FROM audit_logs a",
        clauses=clauses,
        query=query,
        default_order="a.id DESC",
    )
