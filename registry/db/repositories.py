"""Repositories inside projects."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.project_scope import add_project_scope
from registry.db.query import Clauses, Column, ColumnMap, fetch_listed
from registry.query import ListQuery, ProjectScope


async def get_id(db: Executor, name: str) -> int | None:
    repo_id: int | None = await db.fetchval("SELECT id FROM repositories WHERE name = $1", name)
    return repo_id


async def ensure(db: Executor, project_id: int, name: str) -> int:
    """The repository's id, creating it on first push."""
    repo_id: int = await db.fetchval(
        """
        INSERT INTO repositories (project_id, name) VALUES ($1, $2)
        ON CONFLICT (name) DO UPDATE SET updated_at = now()
        RETURNING id
        """,
        project_id,
        name,
    )
    return repo_id


async def list_names(db: Executor, last: str | None, limit: int) -> list[str]:
    """Repository names in byte-wise lexical order after ``last``."""
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT name FROM repositories
        WHERE $1::text IS NULL OR name COLLATE "C" > $1::text COLLATE "C"
        ORDER BY name COLLATE "C"
        LIMIT $2
        """,
        last,
        limit,
    )
    return [r["name"] for r in rows]


async def names_with_projects(db: Executor, project_ids: list[int] | None) -> list[asyncpg.Record]:
    """The repositories (``name``) of these projects (None: of every project) with their
    project (``project_id``, ``project_name``, ``public``), in byte-wise lexical order."""
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT r.name, p.id AS project_id, p.name AS project_name, p.public
        FROM repositories r JOIN projects p ON p.id = r.project_id
        WHERE $1::bigint[] IS NULL OR r.project_id = ANY($1::bigint[])
        ORDER BY r.name COLLATE "C"
        """,
        project_ids,
    )
    return rows


_DETAIL_COLUMNS = """
    r.id, r.project_id, r.name, r.description, r.pull_count, r.created_at, r.updated_at,
    (SELECT count(*) FROM artifacts a WHERE a.repository_id = r.id) AS artifact_count
"""
_DETAIL_FROM = "FROM repositories r JOIN projects p ON p.id = r.project_id"
_DETAIL = f"SELECT {_DETAIL_COLUMNS} {_DETAIL_FROM}"


async def get_detail(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(_DETAIL + " WHERE r.name = $1", name)


LIST_COLUMNS: ColumnMap = {
    "name": Column("r.name"),
    "project_id": Column("r.project_id", "bigint"),
    "creation_time": Column("r.created_at", "timestamptz"),
    "update_time": Column("r.updated_at", "timestamptz"),
    "pull_count": Column("r.pull_count", "bigint"),
}


async def list_repositories(
    db: Executor,
    query: ListQuery,
    scope: ProjectScope,
    project_id: int | None = None,
    names: list[str] | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """Repositories of projects in scope (of ``project_id`` only, when given; of these
    ``names`` only, when given)."""
    clauses = Clauses(LIST_COLUMNS)
    if project_id is not None:
        clauses.add(f"r.project_id = {clauses.param(project_id)}")
    if names is not None:
        clauses.add(f"r.name = ANY({clauses.param(names)}::text[])")
    add_project_scope(clauses, scope, "p.id")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select=_DETAIL_COLUMNS,
        source=_DETAIL_FROM,
        clauses=clauses,
        query=query,
        default_order="r.id",
    )


async def set_description(db: Executor, repository_id: int, description: str) -> None:
    await db.execute(
        "UPDATE repositories SET description = $2, updated_at = now() WHERE id = $1",
        repository_id,
        description,
    )


async def delete(db: Executor, repository_id: int) -> None:
    await db.execute("DELETE FROM repositories WHERE id = $1", repository_id)


async def add_pulls(db: Executor, counts: dict[int, int]) -> None:
    await db.executemany(
        "UPDATE repositories SET pull_count = pull_count + $2 WHERE id = $1",
        list(counts.items()),
    )


async def search_by_name(
    db: Executor, scope: ProjectScope, text: str, limit: int
) -> list[asyncpg.Record]:
    """Repositories of projects in scope whose names contain ``text``, by name."""
    clauses = Clauses({})
    add_project_scope(clauses, scope, "p.id")
    clauses.add(f"r.name ILIKE '%' || {clauses.param(text)} || '%'")
    return await db.fetch(
        f"""
        SELECT r.name, r.pull_count, p.id AS project_id, p.name AS project_name, p.public,
               (SELECT count(*) FROM artifacts a WHERE a.repository_id = r.id) AS artifact_count
        FROM repositories r JOIN projects p ON p.id = r.project_id {clauses.where()}
        ORDER BY r.name LIMIT {clauses.param(limit)}
        """,  # noqa: S608 — placeholders only
        *clauses.params,
    )
