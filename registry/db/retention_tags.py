"""What tag-level retention judges and removes: the tags of a repository, one by one."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def tag_candidates(db: Executor, repository_id: int) -> list[asyncpg.Record]:
    """The repository's tags on the artifacts retention judges (not index children nor
    accessories), each with its artifact's digest and its own push and pull times."""
    return await db.fetch(
        """
        SELECT t.id, t.name, t.artifact_id, a.digest, t.pushed_at, t.pulled_at
        FROM tags t JOIN artifacts a ON a.id = t.artifact_id
        WHERE t.repository_id = $1 AND a.subject_digest IS NULL
          AND NOT EXISTS (SELECT 1 FROM artifact_references ar WHERE ar.child_id = a.id)
        ORDER BY t.id
        """,
        repository_id,
    )


async def delete_if_unmoved(db: Executor, tag_id: int, name: str, artifact_id: int) -> bool:
    """Remove the tag unless it was deleted, renamed or moved to another artifact since it
    was judged."""
    status: str = await db.execute(
        "DELETE FROM tags WHERE id = $1 AND name = $2 AND artifact_id = $3",
        tag_id,
        name,
        artifact_id,
    )
    return status == "DELETE 1"
