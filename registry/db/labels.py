"""Labels, global or owned by one project, and the artifacts they are attached to."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Clauses, Column, ColumnMap, fetch_listed
from registry.query import ListQuery

_COLUMNS = "l.id, l.name, l.description, l.color, l.scope, l.project_id, l.created_at, l.updated_at"


async def create(
    db: Executor,
    *,
    name: str,
    description: str,
    color: str,
    scope: str,
    project_id: int | None,
) -> int | None:
    """The new label's id, or None when the scope already has a label of that name."""
    label_id: int | None = await db.fetchval(
        """
        INSERT INTO labels (name, description, color, scope, project_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (name, scope, COALESCE(project_id, 0)) DO NOTHING
        RETURNING id
        """,
        name,
        description,
        color,
        scope,
        project_id,
    )
    return label_id


async def get(db: Executor, label_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM labels l WHERE l.id = $1",  # noqa: S608 — constant columns
        label_id,
    )


LIST_COLUMNS: ColumnMap = {
    "id": Column("l.id", "bigint"),
    "name": Column("l.name"),
    "scope": Column("l.scope"),
    "project_id": Column("l.project_id", "bigint"),
    "creation_time": Column("l.created_at", "timestamptz"),
    "update_time": Column("l.updated_at", "timestamptz"),
}


async def list_labels(
    db: Executor, scope: str, project_id: int | None, name: str | None, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """Labels of one scope (and project), their names containing ``name`` when given."""
    clauses = Clauses(LIST_COLUMNS)
    clauses.add(f"l.scope = {clauses.param(scope)}")
    if project_id is not None:
        clauses.add(f"l.project_id = {clauses.param(project_id)}")
    if name:
        clauses.add(f"l.name ILIKE '%' || {clauses.param(name)} || '%'")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select=_COLUMNS,
        source="FROM labels l",
        clauses=clauses,
        query=query,
        default_order="l.id",
    )


async def update(
    db: Executor, label_id: int, *, name: str, description: str, color: str
) -> bool | None:
    """True when updated, False when there is no such label, None when the new name is
    already taken in the label's scope."""
    try:
        status: str = await db.execute(
            """
            UPDATE labels SET name = $2, description = $3, color = $4, updated_at = now()
            WHERE id = $1
            """,
            label_id,
            name,
            description,
            color,
        )
    except asyncpg.UniqueViolationError:
        return None
    return status == "UPDATE 1"


async def delete(db: Executor, label_id: int) -> bool:
    """Remove the label and, through the foreign key, every attachment of it."""
    status: str = await db.execute("DELETE FROM labels WHERE id = $1", label_id)
    return status == "DELETE 1"


async def attach(db: Executor, artifact_id: int, label_id: int) -> bool:
    """False when the label is already on the artifact."""
    status: str = await db.execute(
        """
        INSERT INTO artifact_labels (artifact_id, label_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        """,
        artifact_id,
        label_id,
    )
    return status == "INSERT 0 1"


async def detach(db: Executor, artifact_id: int, label_id: int) -> bool:
    """False when the label was not on the artifact."""
    status: str = await db.execute(
        "DELETE FROM artifact_labels WHERE artifact_id = $1 AND label_id = $2",
        artifact_id,
        label_id,
    )
    return status == "DELETE 1"


async def of_artifacts(
    db: Executor, artifact_ids: list[int], *, by_name: bool = False
) -> dict[int, list[asyncpg.Record]]:
    """The labels on each artifact, in the order they were attached (or by name)."""
    order = "l.name" if by_name else "al.created_at, l.id"
    rows = await db.fetch(
        f"""
        SELECT al.artifact_id, {_COLUMNS} FROM artifact_labels al
        JOIN labels l ON l.id = al.label_id
        WHERE al.artifact_id = ANY($1::bigint[])
        ORDER BY {order}
        """,  # noqa: S608 — constant columns and order
        artifact_ids,
    )
    found: dict[int, list[asyncpg.Record]] = {i: [] for i in artifact_ids}
    for row in rows:
        found[row["artifact_id"]].append(row)
    return found
