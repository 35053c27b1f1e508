"""Chart versions of the chart repositories, and their index revisions."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from registry.db.pool import Executor

_COLUMNS = (
    "cv.id, cv.project_id, cv.name, cv.version, cv.artifact_id, cv.chart_digest, "
    "cv.chart_size, cv.prov_digest, cv.metadata, cv.created_at, cv.updated_at"
)


async def record(
    db: Executor,
    *,
    project_id: int,
    name: str,
    version: str,
    artifact_id: int,
    chart_digest: str,
    chart_size: int,
    prov_digest: str | None,
    metadata: dict[str, Any],
    index_entry: str,
) -> None:
    """Insert the version, or point it at its new artifact (a forced upload, a new .prov)."""
    await db.execute(
        """
        INSERT INTO chart_versions (project_id, name, version, artifact_id, chart_digest,
                                    chart_size, prov_digest, metadata, index_entry)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
        ON CONFLICT (project_id, name, version) DO UPDATE
        SET artifact_id = EXCLUDED.artifact_id, chart_digest = EXCLUDED.chart_digest,
            chart_size = EXCLUDED.chart_size, prov_digest = EXCLUDED.prov_digest,
            metadata = EXCLUDED.metadata, index_entry = EXCLUDED.index_entry,
            updated_at = now()
        """,
        project_id,
        name,
        version,
        artifact_id,
        chart_digest,
        chart_size,
        prov_digest,
        json.dumps(metadata),
        index_entry,
    )


def metadata_of(row: asyncpg.Record) -> dict[str, Any]:
    value = row["metadata"]
    parsed: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return parsed


async def get(db: Executor, project_id: int, name: str, version: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM chart_versions cv "  # noqa: S608 — _COLUMNS is a constant
        "WHERE cv.project_id = $1 AND cv.name = $2 AND cv.version = $3",
        project_id,
        name,
        version,
    )


async def versions_of(db: Executor, project_id: int, name: str) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM chart_versions cv "  # noqa: S608 — _COLUMNS is a constant
        "WHERE cv.project_id = $1 AND cv.name = $2",
        project_id,
        name,
    )


async def in_project(db: Executor, project_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM chart_versions cv "  # noqa: S608 — _COLUMNS is a constant
        "WHERE cv.project_id = $1 ORDER BY cv.name",
        project_id,
    )


async def index_rows(db: Executor, project_ids: list[int]) -> list[dict[str, Any]]:
    """What an index needs of every version in the projects, by project and name."""
    rows = await db.fetch(
        """
        SELECT p.name AS project, cv.name, cv.version, cv.index_entry
        FROM chart_versions cv JOIN projects p ON p.id = cv.project_id
        WHERE cv.project_id = ANY($1::bigint[])
        ORDER BY p.name, cv.name, cv.created_at DESC, cv.id DESC
        """,
        project_ids,
    )
    return [dict(row) for row in rows]


async def revision(db: Executor, project_id: int) -> int:
    value = await db.fetchval(
        "SELECT revision FROM chart_index_revisions WHERE project_id = $1", project_id
    )
    return int(value or 0)


async def by_artifact(db: Executor, artifact_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM chart_versions cv "  # noqa: S608 — _COLUMNS is a constant
        "WHERE cv.artifact_id = $1",
        artifact_id,
    )


async def by_filename(db: Executor, project_id: int, filename: str) -> asyncpg.Record | None:
    """The version stored as ``<name>-<version>.tgz`` (names and versions may both hold '-',
    so the file name is matched whole)."""
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM chart_versions cv "  # noqa: S608 — _COLUMNS is a constant
        "WHERE cv.project_id = $1 AND cv.name || '-' || cv.version || '.tgz' = $2",
        project_id,
        filename,
    )


async def projects_with_charts(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT p.id, p.name, p.public FROM projects p
        WHERE EXISTS (SELECT 1 FROM chart_versions cv WHERE cv.project_id = p.id)
        ORDER BY p.name
        """
    )


async def blob_size(db: Executor, digest: str) -> int:
    return int(await db.fetchval("SELECT size FROM blobs WHERE digest = $1", digest) or 0)
