"""Tags: names pointing at artifacts."""

from __future__ import annotations

from registry.db.pool import Executor


async def point(db: Executor, repository_id: int, name: str, artifact_id: int) -> None:
    """Create the tag or move it to ``artifact_id``; one statement, so concurrent pushes of
    the same tag serialize on the row and the last one wins."""
    await db.execute(
        """
        INSERT INTO tags (repository_id, name, artifact_id) VALUES ($1, $2, $3)
        ON CONFLICT (repository_id, name)
        DO UPDATE SET artifact_id = EXCLUDED.artifact_id, pushed_at = now()
        """,
        repository_id,
        name,
        artifact_id,
    )


async def delete(db: Executor, repository: str, name: str) -> str | None:
    """Remove the tag; the digest of the artifact it named, or None when there was no tag."""
    digest: str | None = await db.fetchval(
        """
        DELETE FROM tags t USING repositories r, artifacts a
        WHERE t.repository_id = r.id AND r.name = $1 AND t.name = $2 AND a.id = t.artifact_id
        RETURNING a.digest
        """,
        repository,
        name,
    )
    return digest


async def list_names_by_repository(
    db: Executor, repository: str, last: str | None, limit: int
) -> list[str] | None:
    """A page of the repository's tag names, found by the repository's name in one statement
    (tags/list); None when no such repository exists."""
    rows = await db.fetch(
        """
        SELECT t.name FROM repositories r
        LEFT JOIN LATERAL (
            SELECT name FROM tags
            WHERE repository_id = r.id
              AND ($2::text IS NULL OR name COLLATE "C" > $2::text COLLATE "C")
            ORDER BY name COLLATE "C"
            LIMIT $3
        ) t ON TRUE
        WHERE r.name = $1
        """,
        repository,
        last,
        limit,
    )
    if not rows:
        return None
    return [r["name"] for r in rows if r["name"] is not None]


async def all_names(db: Executor, repository_id: int) -> list[str]:
    rows = await db.fetch("SELECT name FROM tags WHERE repository_id = $1", repository_id)
    return [r["name"] for r in rows]


async def artifact_of(db: Executor, repository_id: int, name: str) -> int | None:
    """The artifact the tag points at now, if the tag exists."""
    artifact_id: int | None = await db.fetchval(
        "SELECT artifact_id FROM tags WHERE repository_id = $1 AND name = $2", repository_id, name
    )
    return artifact_id
