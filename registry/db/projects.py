"""Projects: the first segment of every repository name."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor
from registry.db.project_scope import add_project_scope
from registry.db.query import Clauses, Column, ColumnMap, fetch_listed
from registry.query import ListQuery, ProjectScope


async def get_by_name(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, owner_id, created_at FROM projects WHERE name = $1", name
    )


async def get_by_id(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, owner_id, created_at FROM projects WHERE id = $1", project_id
    )


async def create(
    db: Executor,
    name: str,
    *,
    public: bool = False,
    owner_id: int | None = None,
    metadata: dict[str, str] | None = None,
) -> int | None:
    """The new project's id, or None when the name is taken."""
    meta = {"public": "true" if public else "false", **(metadata or {})}
    project_id: int | None = await db.fetchval(
        """
        INSERT INTO projects (name, public, owner_id, metadata) VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO NOTHING
        RETURNING id
        """,
        name,
        public,
        owner_id,
        meta,
    )
    return project_id


async def public_holders_of_blob(
    db: Executor, digest: str, limit: int = 50
) -> list[asyncpg.Record]:
    """Projects that hold ``digest`` (name, public), for deciding an automatic mount."""
    return await db.fetch(
        """
        SELECT p.id, p.name, p.public FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.id
        JOIN projects p ON p.id = pb.project_id
        WHERE b.digest = $1
        ORDER BY p.public DESC, p.id
        LIMIT $2
        """,
        digest,
        limit,
    )


_PROJECT_COLUMNS = """
    p.id, p.name, p.public, p.owner_id, p.metadata, p.created_at, p.updated_at,
    u.username AS owner_name,
    (SELECT count(*) FROM repositories r WHERE r.project_id = p.id) AS repo_count
"""


async def get_detail(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_PROJECT_COLUMNS} FROM projects p LEFT JOIN users u ON u.id = p.owner_id "  # noqa: S608
        "WHERE p.id = $1",
        project_id,
    )


LIST_COLUMNS: ColumnMap = {
    "name": Column("p.name"),
    "project_id": Column("p.id", "bigint"),
    "public": Column("p.public", "bool"),
    "owner": Column("u.username"),
    "creation_time": Column("p.created_at", "timestamptz"),
    "update_time": Column("p.updated_at", "timestamptz"),
}


async def list_projects(
    db: Executor, query: ListQuery, scope: ProjectScope, name: str | None = None
) -> tuple[list[asyncpg.Record], int]:
    """Projects in scope, their names containing ``name`` when given."""
    clauses = Clauses(LIST_COLUMNS)
    add_project_scope(clauses, scope, "p.id")
    if name:
        clauses.add(f"p.name ILIKE '%' || {clauses.param(name)} || '%'")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select=_PROJECT_COLUMNS,
        source="FROM projects p LEFT JOIN users u ON u.id = p.owner_id",
        clauses=clauses,
        query=query,
        default_order="p.id",
    )


async def repository_count(db: Executor, project_id: int) -> int:
    held: int = await db.fetchval(
        "SELECT count(*) FROM repositories WHERE project_id = $1", project_id
    )
    return held


async def summary(db: Executor, project_id: int) -> dict[str, int]:
    """Repositories, and members per role, in Harbor's summary names."""
    row = await db.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM repositories WHERE project_id = $1) AS repo_count,
          count(*) FILTER (WHERE role = 1) AS project_admin_count,
          count(*) FILTER (WHERE role = 4) AS maintainer_count,
          count(*) FILTER (WHERE role = 2) AS developer_count,
          count(*) FILTER (WHERE role = 3) AS guest_count,
          count(*) FILTER (WHERE role = 5) AS limited_guest_count
        FROM project_members WHERE project_id = $1
        """,
        project_id,
    )
    assert row is not None
    return dict(row)


async def update_metadata(
    db: Executor, project_id: int, metadata: dict[str, str], public: bool
) -> None:
    await db.execute(
        "UPDATE projects SET metadata = $2, public = $3, updated_at = now() WHERE id = $1",
        project_id,
        metadata,
        public,
    )


async def delete(db: Executor, project_id: int) -> None:
    await db.execute("DELETE FROM projects WHERE id = $1", project_id)


async def statistics(db: Executor, scope: ProjectScope) -> dict[str, int]:
    """Counts of the projects in scope and of their repositories, public and private."""
    clauses = Clauses({})
    add_project_scope(clauses, scope, "p.id")
    row = await db.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE p.public) AS public_project_count,
               count(*) FILTER (WHERE NOT p.public) AS private_project_count,
               count(*) AS total_project_count,
               COALESCE(sum(rc.n) FILTER (WHERE p.public), 0) AS public_repo_count,
               COALESCE(sum(rc.n) FILTER (WHERE NOT p.public), 0) AS private_repo_count,
               COALESCE(sum(rc.n), 0) AS total_repo_count
        FROM projects p
        LEFT JOIN LATERAL (SELECT count(*) AS n FROM repositories r WHERE r.project_id = p.id) rc
          ON true
        {clauses.where()}
        """,  # noqa: S608 — placeholders only
        *clauses.params,
    )
    assert row is not None
    return {k: int(v) for k, v in dict(row).items()}


async def search_by_name(
    db: Executor, scope: ProjectScope, text: str, limit: int
) -> list[asyncpg.Record]:
    """Projects in scope whose names contain ``text``, by name."""
    clauses = Clauses({})
    add_project_scope(clauses, scope, "p.id")
    clauses.add(f"p.name ILIKE '%' || {clauses.param(text)} || '%'")
    return await db.fetch(
        f"SELECT p.id, p.name, p.public, p.created_at FROM projects p {clauses.where()} "  # noqa: S608
        f"ORDER BY p.name LIMIT {clauses.param(limit)}",
        *clauses.params,
    )


async def metadata_of(db: Executor, project_id: int) -> dict[str, str]:
    """The project's metadata (Harbor's settings: prevent_vul, severity, auto_scan, …)."""
    value: dict[str, str] | None = await db.fetchval(
        "SELECT metadata FROM projects WHERE id = $1", project_id
    )
    return value or {}
