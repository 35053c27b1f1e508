"""Artifacts (manifests in a repository), their blobs, index children and referrers."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from registry.db.pool import Executor

_COLUMNS = "a.id, a.repository_id, a.digest, a.media_type, a.size, a.manifest"


async def get_by_digest(db: Executor, repository: str, digest: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM artifacts a
        JOIN repositories r ON r.id = a.repository_id
        WHERE r.name = $1 AND a.digest = $2
        """,  # noqa: S608 — _COLUMNS is a constant
        repository,
        digest,
    )


async def get_by_tag(db: Executor, repository: str, tag: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM tags t
        JOIN repositories r ON r.id = t.repository_id
        JOIN artifacts a ON a.id = t.artifact_id
        WHERE r.name = $1 AND t.name = $2
        """,  # noqa: S608 — _COLUMNS is a constant
        repository,
        tag,
    )


async def upsert(
    db: Executor,
    *,
    repository_id: int,
    digest: str,
    media_type: str,
    artifact_type: str | None,
    config_media_type: str | None,
    manifest: bytes,
    subject_digest: str | None,
    annotations: dict[str, str] | None,
) -> tuple[int, bool]:
    """Insert the artifact or refresh its push time; return (id, created)."""
    row = await db.fetchrow(
        """
        INSERT INTO artifacts (repository_id, digest, media_type, artifact_type,
                               config_media_type, size, manifest, subject_digest, annotations)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (repository_id, digest) DO UPDATE SET pushed_at = now()
        RETURNING id, (xmax = 0) AS created
        """,
        repository_id,
        digest,
        media_type,
        artifact_type,
        config_media_type,
        len(manifest),
        manifest,
        subject_digest,
        annotations,
    )
    assert row is not None
    return row["id"], row["created"]


async def link_blobs(db: Executor, artifact_id: int, blob_ids: list[int]) -> None:
    await db.execute(
        """
        INSERT INTO artifact_blobs (artifact_id, blob_id)
        SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING
        """,
        artifact_id,
        blob_ids,
    )


async def ids_in_repository(db: Executor, repository_id: int, digests: list[str]) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT id, digest FROM artifacts WHERE repository_id = $1 AND digest = ANY($2::text[])",
        repository_id,
        digests,
    )
    return {r["digest"]: r["id"] for r in rows}


async def link_children(
    db: Executor, parent_id: int, children: list[tuple[int, dict[str, Any] | None]]
) -> None:
    await db.executemany(
        """
        INSERT INTO artifact_references (parent_id, child_id, platform) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        """,
        [(parent_id, child_id, platform) for child_id, platform in children],
    )


async def delete(db: Executor, artifact_id: int) -> None:
    await db.execute("DELETE FROM artifacts WHERE id = $1", artifact_id)


async def referrers(
    db: Executor, repository: str, subject_digest: str, artifact_type: str | None
) -> list[asyncpg.Record]:
    return await db.fetch(
        """
        SELECT a.digest, a.media_type, a.size, a.artifact_type, a.annotations FROM artifacts a
        JOIN repositories r ON r.id = a.repository_id
        WHERE r.name = $1 AND a.subject_digest = $2
          AND ($3::text IS NULL OR a.artifact_type = $3)
        ORDER BY a.pushed_at, a.id
        """,
        repository,
        subject_digest,
        artifact_type,
    )


def annotations_json(value: Any) -> dict[str, str] | None:
    """JSONB comes back decoded by the pool's codec; tolerate a raw string too."""
    if value is None or isinstance(value, dict):
        return value
    decoded: dict[str, str] = json.loads(value)
    return decoded
