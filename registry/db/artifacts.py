"""Artifacts (manifests in a repository), their blobs, index children and referrers."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from registry.db.pool import Executor
from registry.db.query import Clauses, Column, ColumnMap, fetch_listed
from registry.query import ListQuery

# cosign's tag mode: the signature, attestation and SBOM of ``sha256:<hex>`` are tagged
# ``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` next to it, without a subject field.
ACCESSORY_TAG_PATTERN = r"^sha256-[0-9a-f]{64}\.(sig|att|sbom)$"
# What a tag-mode accessory reads as (Harbor maps the first; the other two are Berth's).
TAG_MODE_TYPES = {
    "sig": "application/vnd.dev.cosign.artifact.sig.v1+json",
    "att": "application/vnd.dev.cosign.artifact.att.v1+json",
    "sbom": "application/vnd.dev.cosign.artifact.sbom.v1+json",
}
# An artifact that is an accessory of another artifact of its repository: by the OCI subject,
# or by a cosign tag-mode tag.
IS_ACCESSORY_SQL = f"""(
    EXISTS (SELECT 1 FROM tags acc_t WHERE acc_t.artifact_id = a.id
            AND acc_t.name ~ '{ACCESSORY_TAG_PATTERN}')
    OR (a.subject_digest IS NOT NULL AND EXISTS (
        SELECT 1 FROM artifacts sa
        WHERE sa.repository_id = a.repository_id AND sa.digest = a.subject_digest)))"""  # noqa: S608 — constant

_COLUMNS = "a.id, a.repository_id, a.digest, a.media_type, a.size, a.manifest, a.subject_digest"


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
        SELECT {_COLUMNS}, t.id AS tag_id FROM tags t
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
    artifact_kind: str | None = None,
) -> tuple[int, bool]:
    """Insert the artifact or refresh its push time; return (id, created)."""
    row = await db.fetchrow(
        """
        INSERT INTO artifacts (repository_id, digest, media_type, artifact_type,
                               config_media_type, size, manifest, subject_digest, annotations,
                               artifact_kind)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
        artifact_kind,
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


async def ids_in_repository(
    db: Executor, repository_id: int, digests: list[str]
) -> dict[str, tuple[int, int]]:
    """digest → (artifact id, manifest size) for those of ``digests`` in the repository."""
    rows = await db.fetch(
        """
        SELECT id, digest, size FROM artifacts
        WHERE repository_id = $1 AND digest = ANY($2::text[])
        """,
        repository_id,
        digests,
    )
    return {r["digest"]: (r["id"], r["size"]) for r in rows}


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


_DETAIL_COLUMNS = """
    a.id, a.repository_id, a.digest, a.media_type, a.artifact_type, a.config_media_type,
           a.size AS manifest_size, a.annotations, a.pushed_at, a.pulled_at, a.extra_attrs,
           a.subject_digest, r.name AS repository_name, r.project_id,
           (a.size + COALESCE((SELECT sum(b.size) FROM artifact_blobs ab JOIN blobs b
                               ON b.id = ab.blob_id WHERE ab.artifact_id = a.id), 0))::bigint
               AS size
"""
_DETAIL_FROM = "FROM artifacts a JOIN repositories r ON r.id = a.repository_id"
_DETAIL = f"SELECT {_DETAIL_COLUMNS} {_DETAIL_FROM}"


async def get_detail_by_id(db: Executor, artifact_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(_DETAIL + " WHERE a.id = $1", artifact_id)


LIST_COLUMNS: ColumnMap = {
    "digest": Column("a.digest"),
    "media_type": Column("a.media_type"),
    "push_time": Column("a.pushed_at", "timestamptz"),
    "pull_time": Column("a.pulled_at", "timestamptz"),
    "tags": Column("(SELECT string_agg(t.name, ',') FROM tags t WHERE t.artifact_id = a.id)"),
    "type": Column("a.artifact_kind"),
    "size": Column("a.size", "bigint"),
}


async def list_artifacts(
    db: Executor, repository: str, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """The repository's artifacts, newest push first unless sorted otherwise."""
    clauses = Clauses(LIST_COLUMNS)
    clauses.add(f"r.name = {clauses.param(repository)}")
    # Signatures, attestations and SBOMs show under their subject, not as artifacts (Harbor).
    clauses.add(f"NOT {IS_ACCESSORY_SQL}")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select=_DETAIL_COLUMNS,
        source=_DETAIL_FROM,
        clauses=clauses,
        query=query,
        default_order="a.pushed_at DESC, a.id DESC",
    )


PROJECT_LIST_COLUMNS: ColumnMap = {**LIST_COLUMNS, "repository_name": Column("r.name")}


async def list_project_artifacts(
    db: Executor, project_id: int, query: ListQuery, latest_in_repository: bool = False
) -> tuple[list[asyncpg.Record], int]:
    """The artifacts of all the project's repositories, newest push first unless sorted
    otherwise; with ``latest_in_repository`` only the newest push of each repository."""
    clauses = Clauses(PROJECT_LIST_COLUMNS)
    clauses.add(f"r.project_id = {clauses.param(project_id)}")
    if latest_in_repository:
        clauses.add(
            "a.id = (SELECT l.id FROM artifacts l WHERE l.repository_id = a.repository_id "
            "ORDER BY l.pushed_at DESC, l.id DESC LIMIT 1)"
        )
    clauses.add(f"NOT {IS_ACCESSORY_SQL}")
    clauses.filter(query.filters)
    return await fetch_listed(
        db,
        select=_DETAIL_COLUMNS,
        source=_DETAIL_FROM,
        clauses=clauses,
        query=query,
        default_order="a.pushed_at DESC, a.id DESC",
    )


async def accessories_of(db: Executor, repository_id: int, digest: str) -> list[asyncpg.Record]:
    """Artifacts of the repository whose subject is ``digest`` (signatures, SBOMs, …), and the
    cosign signature, attestation and SBOM stored in tag mode (tags ``sha256-<hex>.sig``,
    ``.att``, ``.sbom``, no subject field).

    ``artifact_type`` falls back to the config media type, as Harbor reads it (notation on
    OCI 1.0 registries); a tag-mode accessory reads as the type of its tag's suffix.
    """
    algorithm, _, hex_digest = digest.partition(":")
    base = f"{algorithm}-{hex_digest}"
    return await db.fetch(
        """
        SELECT a.id, a.digest, a.size, a.pushed_at,
               CASE WHEN a.subject_digest IS NULL
                    THEN CASE substring(t.name from '[.]([a-z]+)$')
                         WHEN 'att' THEN $4 WHEN 'sbom' THEN $5 ELSE $6 END
                    ELSE COALESCE(a.artifact_type, a.config_media_type) END AS artifact_type
        FROM artifacts a
        LEFT JOIN tags t ON a.subject_digest IS NULL AND t.artifact_id = a.id
             AND t.repository_id = $1 AND t.name = ANY($3::text[])
        WHERE a.repository_id = $1
          AND (a.subject_digest = $2 OR (a.subject_digest IS NULL AND t.id IS NOT NULL))
        ORDER BY a.pushed_at, a.id, t.name
        """,
        repository_id,
        digest,
        [f"{base}.{suffix}" for suffix in TAG_MODE_TYPES],
        TAG_MODE_TYPES["att"],
        TAG_MODE_TYPES["sbom"],
        TAG_MODE_TYPES["sig"],
    )


async def has_accessory_tag(db: Executor, artifact_id: int) -> bool:
    """Whether the artifact is tagged as a cosign tag-mode signature, attestation or SBOM."""
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM tags WHERE artifact_id = $1 AND name ~ $2)",
        artifact_id,
        ACCESSORY_TAG_PATTERN,
    )
    return found


async def accessory_ids(db: Executor, artifact_ids: list[int]) -> list[int]:
    """Every accessory of the artifacts, and the accessories of those (a signature of an
    SBOM), by subject or by cosign tag-mode tag in the same repository."""
    rows = await db.fetch(
        """
        WITH RECURSIVE held(id, repository_id, digest) AS (
            SELECT id, repository_id, digest FROM artifacts WHERE id = ANY($1::bigint[])
            UNION
            SELECT a.id, a.repository_id, a.digest
            FROM held h JOIN artifacts a ON a.repository_id = h.repository_id
            WHERE a.subject_digest = h.digest
               OR (a.subject_digest IS NULL AND EXISTS (
                   SELECT 1 FROM tags t WHERE t.artifact_id = a.id
                   AND t.name = ANY(ARRAY[replace(h.digest, ':', '-') || '.sig',
                                          replace(h.digest, ':', '-') || '.att',
                                          replace(h.digest, ':', '-') || '.sbom'])))
        )
        SELECT id FROM held WHERE NOT (id = ANY($1::bigint[]))
        """,
        artifact_ids,
    )
    return [r["id"] for r in rows]


async def manifest_of(db: Executor, artifact_id: int) -> str | None:
    manifest: str | None = await db.fetchval(
        "SELECT manifest FROM artifacts WHERE id = $1", artifact_id
    )
    return manifest


async def tags_of(db: Executor, artifact_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    rows = await db.fetch(
        "SELECT id, repository_id, artifact_id, name, pushed_at, pulled_at FROM tags "
        "WHERE artifact_id = ANY($1::bigint[]) ORDER BY pushed_at DESC, name",
        artifact_ids,
    )
    found: dict[int, list[asyncpg.Record]] = {i: [] for i in artifact_ids}
    for row in rows:
        found[row["artifact_id"]].append(row)
    return found


async def children_of(db: Executor, artifact_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    rows = await db.fetch(
        """
        SELECT ar.parent_id, ar.child_id, ar.platform, c.digest AS child_digest
        FROM artifact_references ar JOIN artifacts c ON c.id = ar.child_id
        WHERE ar.parent_id = ANY($1::bigint[])
        """,
        artifact_ids,
    )
    found: dict[int, list[asyncpg.Record]] = {i: [] for i in artifact_ids}
    for row in rows:
        found[row["parent_id"]].append(row)
    return found


async def parents_of(db: Executor, artifact_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT parent_id FROM artifact_references WHERE child_id = $1", artifact_id
    )
    return [r["parent_id"] for r in rows]


async def blob_ids(db: Executor, artifact_id: int) -> list[tuple[int, int]]:
    """(blob id, size) of every blob the artifact names."""
    rows = await db.fetch(
        "SELECT b.id, b.size FROM artifact_blobs ab JOIN blobs b ON b.id = ab.blob_id "
        "WHERE ab.artifact_id = $1",
        artifact_id,
    )
    return [(r["id"], r["size"]) for r in rows]


async def set_extra_attrs(db: Executor, artifact_id: int, attrs: dict[str, object]) -> None:
    await db.execute("UPDATE artifacts SET extra_attrs = $2 WHERE id = $1", artifact_id, attrs)


async def record_pulls(db: Executor, artifact_ids: list[int], tag_ids: list[int]) -> None:
    await db.execute(
        "UPDATE artifacts SET pulled_at = now() WHERE id = ANY($1::bigint[])", artifact_ids
    )
    if tag_ids:
        await db.execute("UPDATE tags SET pulled_at = now() WHERE id = ANY($1::bigint[])", tag_ids)


async def digests_in_repository(db: Executor, repository_id: int) -> dict[int, str]:
    """Artifact id → digest, for every artifact of the repository."""
    rows = await db.fetch(
        "SELECT id, digest FROM artifacts WHERE repository_id = $1 ORDER BY id", repository_id
    )
    return {r["id"]: r["digest"] for r in rows}
