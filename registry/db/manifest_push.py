"""Storing a pushed manifest in two statements, whatever its number of layers or children:
one read of everything the manifest refers to, one write of everything it creates."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from registry.db.pool import Executor


@dataclass
class Referenced:
    """What a manifest refers to, as the database holds it now."""

    # digest → (blob id, size) of the blobs the project holds
    blobs: dict[str, tuple[int, int]] = field(default_factory=dict)
    # digest → (artifact id, manifest size) of the manifests in the repository
    children: dict[str, tuple[int, int]] = field(default_factory=dict)
    # the digest the tag points at now, when it exists
    tagged: str | None = None


async def referenced(
    db: Executor,
    project_id: int,
    repository: str,
    blob_digests: list[str],
    child_digests: list[str],
    tag: str | None,
) -> Referenced:
    # A function (migration 0017) so that its plan is made once per connection, not per push.
    rows = await db.fetch(
        "SELECT kind, digest, id, size FROM manifest_references($1, $2, $3, $4, $5)",
        project_id,
        repository,
        blob_digests,
        child_digests,
        tag,
    )
    found = Referenced()
    for row in rows:
        if row["kind"] == "blob":
            found.blobs[row["digest"]] = (row["id"], row["size"])
        elif row["kind"] == "child":
            found.children[row["digest"]] = (row["id"], row["size"])
        else:
            found.tagged = row["digest"]
    return found


@dataclass(frozen=True, slots=True)
class NewArtifact:
    digest: str
    media_type: str
    artifact_type: str | None
    config_media_type: str | None
    manifest: bytes
    subject_digest: str | None
    annotations: dict[str, str] | None
    artifact_kind: str | None
    blob_ids: list[int]
    # (artifact id, platform) of an index's children
    children: list[tuple[int, dict[str, Any] | None]]


# The push statement never locks the repository row: pushes to one repository (CI pushing
# many tags at once) would otherwise queue on it, each for the whole of another's commit. Its
# id is read, not upserted; its update time is bumped by a statement of its own (_TOUCH).
_STORE = """
WITH found AS (
    SELECT id FROM repositories WHERE name = $2
), made AS (
    INSERT INTO repositories (project_id, name)
    SELECT $1, $2 WHERE NOT EXISTS (SELECT FROM found)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
), repo AS (
    SELECT id FROM found UNION ALL SELECT id FROM made
), artifact AS (
    INSERT INTO artifacts (repository_id, digest, media_type, artifact_type,
                           config_media_type, size, manifest, subject_digest,
                           annotations, artifact_kind)
    SELECT repo.id, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM repo
    ON CONFLICT (repository_id, digest) DO UPDATE SET pushed_at = now()
    RETURNING id, (xmax = 0) AS created
), layers AS (
    INSERT INTO artifact_blobs (artifact_id, blob_id)
    SELECT artifact.id, blob_id FROM artifact, unnest($12::bigint[]) AS blob_id
    WHERE artifact.created
    ON CONFLICT DO NOTHING
), children AS (
    INSERT INTO artifact_references (parent_id, child_id, platform)
    SELECT artifact.id, c.child_id, c.platform::jsonb
    FROM artifact, unnest($13::bigint[], $14::text[]) AS c (child_id, platform)
    WHERE artifact.created
    ON CONFLICT DO NOTHING
), tag AS (
    INSERT INTO tags (repository_id, name, artifact_id)
    SELECT repo.id, $15::text, artifact.id FROM repo, artifact
    WHERE $15::text IS NOT NULL
    ON CONFLICT (repository_id, name)
    DO UPDATE SET artifact_id = EXCLUDED.artifact_id, pushed_at = now()
)
SELECT artifact.id, artifact.created, (SELECT id FROM found) AS existing FROM artifact
"""
# A repository's update time is the last push, to the second: within a second of the last
# bump, or while another push holds the row to bump it, the statement writes nothing and waits
# for no one. Alone in its transaction, its one lock cannot take part in a deadlock.
_TOUCH = """
UPDATE repositories SET updated_at = now()
WHERE id = (
    SELECT id FROM repositories
    WHERE id = $1 AND updated_at < now() - interval '1 second'
    FOR NO KEY UPDATE SKIP LOCKED
)
"""
# When this process last sent _TOUCH for a repository: within the second it is not sent again,
# sparing most pushes that round trip (a push through another process may still send it).
_TOUCHED: dict[int, float] = {}
_TOUCHED_CAPACITY = 10_000
# Foreign keys to the repository row (PostgreSQL's default names).
_REPOSITORY_KEYS = frozenset({"artifacts_repository_id_fkey", "tags_repository_id_fkey"})


async def store(
    db: Executor, project_id: int, repository: str, artifact: NewArtifact, tag: str | None
) -> tuple[int, bool]:
    """Create the repository on first push, the artifact with its blob and child links (or
    refresh its push time when it exists), and point the tag at it: one statement, so one
    round trip and atomic without a transaction; then mark the repository updated. Returns
    (artifact id, created).

    ``db`` must not be inside a transaction: the statement runs a second time when the
    repository was made or deleted by another transaction while it ran."""
    arguments = (
        project_id,
        repository,
        artifact.digest,
        artifact.media_type,
        artifact.artifact_type,
        artifact.config_media_type,
        len(artifact.manifest),
        artifact.manifest,
        artifact.subject_digest,
        artifact.annotations,
        artifact.artifact_kind,
        artifact.blob_ids,
        [child_id for child_id, _ in artifact.children],
        [None if p is None else json.dumps(p) for _, p in artifact.children],
        tag,
    )
    for last_try in (False, True):
        try:
            row = await db.fetchrow(_STORE, *arguments)
        except asyncpg.ForeignKeyViolationError as exc:
            if last_try or exc.constraint_name not in _REPOSITORY_KEYS:
                raise
            continue  # the repository was deleted as this statement ran: make it again
        if row is not None:
            if row["existing"] is not None:
                await _touch(db, row["existing"])
            return row["id"], row["created"]
        # Another push made the repository as this statement ran (its insert waited for that
        # one's commit, then did nothing): the next statement sees it.
    raise RuntimeError(f"repository {repository} was made and deleted while a push was stored")


async def _touch(db: Executor, repository_id: int) -> None:
    now = time.monotonic()
    if now - _TOUCHED.get(repository_id, -1.0) < 1.0:
        return
    if len(_TOUCHED) >= _TOUCHED_CAPACITY:
        _TOUCHED.clear()
    _TOUCHED[repository_id] = now
    await db.execute(_TOUCH, repository_id)
