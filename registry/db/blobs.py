"""Blobs (stored once by digest) and their links to the projects that hold them."""

from __future__ import annotations

import asyncpg

from registry.db.pool import Executor


async def find_in_project(db: Executor, project_id: int, digest: str) -> asyncpg.Record | None:
    """(id, size, verified, touched_at) of a blob the project holds, else None: a digest alone
    grants nothing."""
    return await db.fetchrow(
        """
        SELECT b.id, b.size, b.verified, pb.touched_at FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.id AND pb.project_id = $1
        WHERE b.digest = $2
        """,
        project_id,
        digest,
    )


async def find_in_project_by_name(
    db: Executor, project_name: str, digest: str
) -> asyncpg.Record | None:
    """Like :func:`find_in_project`, keyed by the project's name: one query on the pull path."""
    return await db.fetchrow(
        """
        SELECT b.id, b.size FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.id
        JOIN projects p ON p.id = pb.project_id AND p.name = $1
        WHERE b.digest = $2
        """,
        project_name,
        digest,
    )


async def find(db: Executor, digest: str) -> asyncpg.Record | None:
    """(id, size, verified) of the blob, else None."""
    return await db.fetchrow("SELECT id, size, verified FROM blobs WHERE digest = $1", digest)


async def record_verified(db: Executor, digest: str, size: int) -> int:
    """The blob's id after its bytes were stored and checked against the digest: inserts the
    row, or marks an existing one verified (with the size the checked bytes have)."""
    blob_id: int = await db.fetchval(
        """
        INSERT INTO blobs (digest, size, verified) VALUES ($1, $2, TRUE)
        ON CONFLICT (digest) DO UPDATE SET size = EXCLUDED.size, verified = TRUE
        RETURNING id
        """,
        digest,
        size,
    )
    return blob_id


async def link_to_project(db: Executor, project_id: int, blob_id: int) -> None:
    await db.execute(
        "INSERT INTO project_blobs (project_id, blob_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        project_id,
        blob_id,
    )


async def unlink_from_project(db: Executor, project_id: int, digest: str) -> bool:
    status: str = await db.execute(
        """
        DELETE FROM project_blobs pb USING blobs b
        WHERE pb.blob_id = b.id AND pb.project_id = $1 AND b.digest = $2
        """,
        project_id,
        digest,
    )
    return status != "DELETE 0"


async def ids_in_project(
    db: Executor, project_id: int, digests: list[str]
) -> dict[str, tuple[int, int]]:
    """digest → (blob id, size) for those of ``digests`` the project holds."""
    rows = await db.fetch(
        """
        SELECT b.id, b.digest, b.size FROM blobs b
        JOIN project_blobs pb ON pb.blob_id = b.id AND pb.project_id = $1
        WHERE b.digest = ANY($2::text[])
        """,
        project_id,
        digests,
    )
    return {r["digest"]: (r["id"], r["size"]) for r in rows}


async def held_by_project(db: Executor, project_id: int, blob_ids: list[int]) -> set[int]:
    rows = await db.fetch(
        "SELECT blob_id FROM project_blobs WHERE project_id = $1 AND blob_id = ANY($2::bigint[])",
        project_id,
        blob_ids,
    )
    return {r["blob_id"] for r in rows}


async def release_unreferenced(db: Executor, project_id: int, blob_ids: list[int]) -> int:
    """Unlink from the project those of ``blob_ids`` no artifact of the project still names,
    so its quota usage drops as soon as artifacts are deleted. Returns how many."""
    status: str = await db.execute(
        """
        DELETE FROM project_blobs pb
        WHERE pb.project_id = $1 AND pb.blob_id = ANY($2::bigint[])
          AND NOT EXISTS (
              SELECT 1 FROM artifact_blobs ab
              JOIN artifacts a ON a.id = ab.artifact_id
              JOIN repositories r ON r.id = a.repository_id
              WHERE ab.blob_id = pb.blob_id AND r.project_id = $1)
        """,
        project_id,
        blob_ids,
    )
    return int(status.split()[-1])


async def touch(db: Executor, project_id: int, blob_id: int) -> None:
    """Note that a client asked for the blob: garbage collection spares it for a while."""
    await db.execute(
        "UPDATE project_blobs SET touched_at = now() WHERE project_id = $1 AND blob_id = $2",
        project_id,
        blob_id,
    )


async def total_size(db: Executor) -> int:
    """Bytes of every blob stored once, whatever holds it."""
    size: int = await db.fetchval("SELECT COALESCE(sum(size), 0)::bigint FROM blobs")
    return size
