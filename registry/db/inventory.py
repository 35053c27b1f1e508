"""Counts of what the registry holds, for the metrics gauges and the dashboard."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def totals(db: Executor) -> asyncpg.Record:
    row = await db.fetchrow(
        """
        SELECT (SELECT count(*) FROM projects) AS projects,
               (SELECT count(*) FROM repositories) AS repositories,
               (SELECT count(*) FROM artifacts) AS artifacts
        """
    )
    assert row is not None  # an aggregate without GROUP BY always gives one row
    return row


async def pending_jobs(db: Executor) -> list[asyncpg.Record]:
    """Jobs waiting for a worker, by kind."""
    return await db.fetch(
        "SELECT kind, count(*) AS waiting FROM jobs WHERE status = 'Pending' GROUP BY kind"
    )


async def recent_failures(db: Executor, kinds: list[str], limit: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT id, kind, parent_id, parameters, created_at, ended_at FROM jobs
        WHERE status = 'Error' AND kind = ANY($1::text[])
        ORDER BY id DESC LIMIT $2
        """,
        kinds,
        limit,
    )


async def daily_operations(
    db: Executor, project_ids: list[int] | None, days: int
) -> list[asyncpg.Record]:
    """Pushes and pulls per day over the last ``days`` days (all projects when None). A push
    is recorded as Harbor does, as the creation of an artifact."""
    return await db.fetch(
        """
        SELECT date_trunc('day', op_time) AS day,
               CASE operation WHEN 'pull' THEN 'pull' ELSE 'push' END AS operation,
               count(*) AS n
        FROM audit_logs
        WHERE (operation = 'pull' OR (operation = 'create' AND resource_type = 'artifact'))
          AND op_time > now() - make_interval(days => $1)
          AND ($2::bigint[] IS NULL OR project_id = ANY($2::bigint[]))
        GROUP BY 1, 2 ORDER BY 1
        """,
        days,
        project_ids,
    )
