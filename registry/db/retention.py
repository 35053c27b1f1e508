"""Tag retention policies, the artifacts they judge, and their executions (RETENTION jobs)."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor, Pool

_COLUMNS = "id, project_id, algorithm, rules, trigger, mode, created_at, updated_at"
_JOB_COLUMNS = (
    "id, kind, trigger, status, parameters, result, attempts, stop_requested, parent_id, "
    "created_at, started_at, ended_at, updated_at"
)
EXECUTION_KIND = "RETENTION"


async def create(
    db: Pool,
    project_id: int,
    rules: list[dict[str, Any]],
    trigger: dict[str, Any],
    mode: str = "artifact",
) -> int | None:
    """The new policy's id, or None when the project has a policy already. The project's
    ``retention_id`` metadata names it, as in Harbor."""
    async with db.acquire() as conn, conn.transaction():
        policy_id: int | None = await conn.fetchval(
            """
            INSERT INTO retention_policies (project_id, rules, trigger, mode)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (project_id) DO NOTHING
            RETURNING id
            """,
            project_id,
            rules,
            trigger,
            mode,
        )
        if policy_id is not None:
            await conn.execute(
                """
                UPDATE projects
                SET metadata = metadata || jsonb_build_object('retention_id', $2::text),
                    updated_at = now()
                WHERE id = $1
                """,
                project_id,
                str(policy_id),
            )
        return policy_id


async def get(db: Executor, policy_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM retention_policies WHERE id = $1",  # noqa: S608 — constant columns
        policy_id,
    )


async def update(
    db: Executor,
    policy_id: int,
    rules: list[dict[str, Any]],
    trigger: dict[str, Any],
    mode: str = "artifact",
) -> bool:
    status: str = await db.execute(
        "UPDATE retention_policies SET rules = $2, trigger = $3, mode = $4, updated_at = now() "
        "WHERE id = $1",
        policy_id,
        rules,
        trigger,
        mode,
    )
    return status == "UPDATE 1"


async def delete(db: Pool, policy_id: int) -> bool:
    """Delete the policy (a trigger removes its schedule and executions) and the project's
    ``retention_id``."""
    async with db.acquire() as conn, conn.transaction():
        project_id: int | None = await conn.fetchval(
            "DELETE FROM retention_policies WHERE id = $1 RETURNING project_id", policy_id
        )
        if project_id is None:
            return False
        await conn.execute(
            """
            UPDATE projects SET metadata = metadata - 'retention_id', updated_at = now()
            WHERE id = $1 AND metadata ->> 'retention_id' = $2
            """,
            project_id,
            str(policy_id),
        )
        return True


async def project(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, name, public, created_at FROM projects WHERE id = $1", project_id
    )


async def repositories(db: Executor, project_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        'SELECT id, name FROM repositories WHERE project_id = $1 ORDER BY name COLLATE "C"',
        project_id,
    )


async def candidates(db: Executor, repository_id: int) -> list[asyncpg.Record]:
    """The artifacts retention judges in a repository, with their tags. Index children and
    accessories (signatures, SBOMs) are left out: they live and go with what holds them. An
    artifact counts as pushed (pulled) when it or any of its tags last was."""
    return await db.fetch(
        """
        SELECT a.id, a.digest,
               GREATEST(a.pushed_at, max(t.pushed_at)) AS pushed_at,
               GREATEST(a.pulled_at, max(t.pulled_at)) AS pulled_at,
               COALESCE(array_agg(t.name ORDER BY t.name) FILTER (WHERE t.name IS NOT NULL),
                        '{}') AS tags
        FROM artifacts a LEFT JOIN tags t ON t.artifact_id = a.id
        WHERE a.repository_id = $1 AND a.subject_digest IS NULL
          AND NOT EXISTS (SELECT 1 FROM artifact_references ar WHERE ar.child_id = a.id)
        GROUP BY a.id
        ORDER BY a.id
        """,
        repository_id,
    )


async def current_tags(db: Executor, artifact_id: int) -> list[str] | None:
    """The artifact's tags now; None when it is gone or an index has come to include it."""
    row = await db.fetchrow(
        """
        SELECT COALESCE((SELECT array_agg(name ORDER BY name) FROM tags
                         WHERE artifact_id = a.id), '{}') AS tags,
               EXISTS (SELECT 1 FROM artifact_references WHERE child_id = a.id) AS included
        FROM artifacts a WHERE a.id = $1
        """,
        artifact_id,
    )
    if row is None or row["included"]:
        return None
    return list(row["tags"])


# --- executions --------------------------------------------------------------------------------


async def list_executions(
    db: Executor, policy_id: int, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    condition = "kind = 'RETENTION' AND parameters ->> 'policy_id' = $1"
    rows = await db.fetch(
        f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {condition} "  # noqa: S608 — constant SQL
        "ORDER BY id DESC LIMIT $2 OFFSET $3",
        str(policy_id),
        limit,
        offset,
    )
    total: int = await db.fetchval(
        f"SELECT count(*) FROM jobs WHERE {condition}",  # noqa: S608 — constant SQL
        str(policy_id),
    )
    return rows, total


async def get_execution(db: Executor, policy_id: int, execution_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_JOB_COLUMNS} FROM jobs "  # noqa: S608 — constant columns
        "WHERE id = $1 AND kind = 'RETENTION' AND parameters ->> 'policy_id' = $2",
        execution_id,
        str(policy_id),
    )


async def unfinished_executions(db: Executor, policy_id: int) -> list[int]:
    rows = await db.fetch(
        """
        SELECT id FROM jobs
        WHERE kind = 'RETENTION' AND parameters ->> 'policy_id' = $1
          AND status IN ('Pending', 'Running')
        """,
        str(policy_id),
    )
    return [r["id"] for r in rows]
