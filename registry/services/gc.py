"""Online garbage collection of blobs.

Deleting artifacts, tags, repositories and projects only changes metadata; the bytes go here.
A blob is collected when no artifact names it and nothing may still need it: its row is older
than the grace period, and no project link to it was made or touched (by an upload, a mount or
a HEAD/GET on the way to a manifest push) within that period. Each deletion re-checks under a
row lock and the same per-digest Redis lock uploads take, so a push racing with the
collection either keeps its blob or uploads it again — never references a deleted one.

Work goes in pages of blob ids, so memory stays bounded whatever the number of blobs; an
interrupted run leaves a consistent state and can simply run again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from registry.oci.digest import Digest, InvalidDigestError
from registry.services import lease, read_cache
from registry.services.context import Backends
from registry.storage import layout
from registry.storage.base import PathNotFoundError

# The job kind that runs garbage collection.
KIND = "GARBAGE_COLLECTION"
PAGE = 2000
LOCK_SECONDS = 600
# A page's digest locks are not renewed: its work takes seconds, and files not deleted within
# this time (minus the margin) are left to the orphan sweep.
PAGE_LOCK_SECONDS = 120.0
PAGE_LOCK_MARGIN_SECONDS = 30.0

Log = Callable[[str], Awaitable[None]]
ShouldStop = Callable[[], Awaitable[bool]]

_CANDIDATES = """
    SELECT b.id, b.digest, b.size FROM blobs b
    WHERE b.id > $1 AND b.created_at < now() - make_interval(secs => $2)
      AND NOT EXISTS (SELECT 1 FROM artifact_blobs ab WHERE ab.blob_id = b.id)
      AND NOT EXISTS (SELECT 1 FROM project_blobs pb WHERE pb.blob_id = b.id
                      AND (pb.created_at > now() - make_interval(secs => $2)
                           OR pb.touched_at > now() - make_interval(secs => $2)))
    ORDER BY b.id LIMIT $3
"""


@dataclass
class GcResult:
    dry_run: bool
    blobs_deleted: int = 0
    bytes_freed: int = 0
    artifacts_deleted: int = 0
    orphan_files_deleted: int = 0
    uploads_purged: int = 0
    candidates: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "blobs_deleted": self.blobs_deleted,
            "bytes_freed": self.bytes_freed,
            "artifacts_deleted": self.artifacts_deleted,
            "orphan_files_deleted": self.orphan_files_deleted,
            "uploads_purged": self.uploads_purged,
        }


async def _never() -> bool:
    return False


async def _quiet(_: str) -> None:
    return None


async def delete_untagged_artifacts(
    b: Backends, dry_run: bool, log: Log, should_stop: ShouldStop
) -> int:
    """Artifacts with no tag that no index includes and that are not accessories of another
    artifact (signatures and SBOMs live without tags by design)."""
    from registry.rbac import ProjectRef
    from registry.services.artifact import remove_artifacts

    deleted = 0
    last_id = 0
    while not await should_stop():
        rows = await b.db.fetch(
            """
            SELECT a.id, a.digest, r.name AS repository, p.id AS project_id, p.name AS project,
                   p.public
            FROM artifacts a JOIN repositories r ON r.id = a.repository_id
            JOIN projects p ON p.id = r.project_id
            WHERE a.id > $1
              AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id)
              AND NOT EXISTS (SELECT 1 FROM artifact_references ar WHERE ar.child_id = a.id)
              AND a.subject_digest IS NULL
            ORDER BY a.id LIMIT $2
            """,
            last_id,
            PAGE,
        )
        if not rows:
            break
        last_id = rows[-1]["id"]
        for row in rows:
            await log(f"untagged artifact {row['repository']}@{row['digest']}")
            if not dry_run:
                project = ProjectRef(row["project_id"], row["project"], row["public"])
                await remove_artifacts(b, project, [row["id"]])
            deleted += 1
    return deleted


@dataclass
class _Unlisted:
    """A page whose collectable blobs are gone from the database; their files still to go,
    under the digests' locks."""

    batch: lease.Batch
    doomed: list[Any]

    @property
    def sizes(self) -> list[int]:
        return [int(r["size"]) for r in self.doomed]


async def _unlist_page(b: Backends, page: list[Any], grace: int) -> _Unlisted:
    """Delete the rows of a candidate page's blobs that are still collectable.

    A handful of round trips per page instead of per blob: the digests' locks in one Redis
    script (a digest being pushed right now is left for the next run), then the rows locked,
    re-checked and deleted in one transaction."""
    keys = {row["digest"]: f"berth:blob:{row['digest']}" for row in page}
    batch = await lease.take_free(b.redis, list(keys.values()), PAGE_LOCK_SECONDS)
    try:
        ids = [row["id"] for row in page if keys[row["digest"]] in batch.taken]
        if not ids:
            return _Unlisted(batch, [])
        async with b.db.acquire() as conn, conn.transaction():
            # SKIP LOCKED: a row a manifest push is referencing right now is not waited for
            # (nor deadlocked on); it is not garbage.
            locked = [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM blobs WHERE id = ANY($1::bigint[]) "
                    "ORDER BY id FOR UPDATE SKIP LOCKED",
                    ids,
                )
            ]
            # A statement of its own, so it sees every reference committed before the locks.
            doomed = await conn.fetch(_STILL_COLLECTABLE, locked, grace) if locked else []
            doomed_ids = [r["id"] for r in doomed]
            unlinked = "DELETE 0"
            if doomed_ids:
                unlinked = await conn.execute(
                    "DELETE FROM project_blobs WHERE blob_id = ANY($1::bigint[])", doomed_ids
                )
                await conn.execute("DELETE FROM blobs WHERE id = ANY($1::bigint[])", doomed_ids)
        if unlinked != "DELETE 0":
            # Projects that still listed a blob may have it cached.
            await read_cache.changed_everywhere(b.redis)
    except BaseException:
        await batch.release()
        raise
    return _Unlisted(batch, list(doomed))


async def _delete_files(b: Backends, unlisted: _Unlisted, workers: int) -> None:
    """Delete an unlisted page's files in ``workers`` batches side by side (an object store
    deletes a thousand per request), then let go of its locks.

    After the commit: a reader that still found a row gets BLOB_UNKNOWN from storage, never
    bytes of a blob the registry no longer lists. Near the locks' end the files are left to
    the orphan sweep, which takes the lock again."""
    try:
        doomed = unlisted.doomed
        if doomed and unlisted.batch.time_left() >= PAGE_LOCK_MARGIN_SECONDS:
            paths = [layout.blob_path(Digest.parse(r["digest"])) for r in doomed]
            share = -(-len(paths) // workers)
            await asyncio.gather(
                *(
                    b.storage.delete_objects(paths[start : start + share])
                    for start in range(0, len(paths), share)
                )
            )
    finally:
        await unlisted.batch.release()


_STILL_COLLECTABLE = """
    SELECT b.id, b.digest, b.size FROM blobs b
    WHERE b.id = ANY($1::bigint[])
      AND NOT EXISTS (SELECT 1 FROM artifact_blobs ab WHERE ab.blob_id = b.id)
      AND NOT EXISTS (SELECT 1 FROM project_blobs pb WHERE pb.blob_id = b.id
                      AND (pb.created_at > now() - make_interval(secs => $2)
                           OR pb.touched_at > now() - make_interval(secs => $2)))
"""


async def _sweep_orphan_files(
    b: Backends, grace: int, dry_run: bool, log: Log, should_stop: ShouldStop
) -> int:
    """Files under /blobs with no row (a crash between storing and recording), older than
    the grace period."""
    import time

    removed = 0
    batch: list[tuple[str, str]] = []

    async def flush() -> int:
        if not batch:
            return 0
        known = {
            r["digest"]
            for r in await b.db.fetch(
                "SELECT digest FROM blobs WHERE digest = ANY($1::text[])", [d for d, _ in batch]
            )
        }
        count = 0
        for digest, path in batch:
            if digest in known:
                continue
            await log(f"orphan file {path}")
            if not dry_run:
                async with b.redis.lock(f"berth:blob:{digest}", timeout=LOCK_SECONDS):
                    if not await b.db.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = $1)", digest
                    ):
                        with contextlib.suppress(PathNotFoundError):
                            await b.storage.delete(path.rsplit("/", 1)[0])
            count += 1
        batch.clear()
        return count

    try:
        async for info in b.storage.walk("/blobs"):
            if await should_stop():
                break
            parts = info.path.split("/")  # /blobs/<alg>/<xx>/<hex>/data
            if len(parts) != 6 or parts[-1] != "data":
                continue
            if time.time() - info.modified.timestamp() < grace:
                continue
            try:
                digest = str(Digest(parts[2], parts[4]))
                Digest.parse(digest)
            except InvalidDigestError:
                continue
            batch.append((digest, info.path))
            if len(batch) >= PAGE:
                removed += await flush()
        removed += await flush()
    except PathNotFoundError:
        pass
    return removed


async def collect_garbage(
    b: Backends,
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    workers: int = 1,
    log: Log = _quiet,
    should_stop: ShouldStop = _never,
) -> GcResult:
    from registry.services.upload import purge_expired_uploads

    grace = b.settings.gc_grace_seconds
    result = GcResult(dry_run=dry_run)
    await log(
        f"garbage collection started (dry_run={dry_run}, delete_untagged={delete_untagged}, "
        f"workers={workers}, grace={grace}s)"
    )
    if delete_untagged:
        result.artifacts_deleted = await delete_untagged_artifacts(b, dry_run, log, should_stop)
        await log(f"untagged artifacts: {result.artifacts_deleted}")
    if not dry_run:
        result.uploads_purged = await purge_expired_uploads(b)
    workers = max(1, min(workers, 5))
    last_id = 0
    # One page's files go while the next page's rows are found and deleted.
    deleting: asyncio.Task[None] | None = None
    try:
        while not await should_stop():
            page = await b.db.fetch(_CANDIDATES, last_id, grace, PAGE)
            if not page:
                break
            last_id = page[-1]["id"]
            if dry_run:
                page_bytes = sum(row["size"] for row in page)
                result.blobs_deleted += len(page)
                result.bytes_freed += page_bytes
                # One line per page, not per blob: a dry run over 100k blobs stays readable.
                await log(
                    f"would delete {len(page)} blobs ({page_bytes} bytes), e.g. {page[0]['digest']}"
                )
                continue

            unlisted = await _unlist_page(b, list(page), grace)
            if deleting is not None:
                await deleting
            deleting = asyncio.create_task(_delete_files(b, unlisted, workers))
            for size in unlisted.sizes:
                result.blobs_deleted += 1
                result.bytes_freed += size
            await log(
                f"progress: {result.blobs_deleted} blobs deleted, {result.bytes_freed} bytes freed"
            )
    finally:
        if deleting is not None:
            await deleting
    if not await should_stop():
        result.orphan_files_deleted = await _sweep_orphan_files(b, grace, dry_run, log, should_stop)
    verb = "would free" if dry_run else "freed"
    await log(
        f"garbage collection done: {result.blobs_deleted} blobs, {verb} {result.bytes_freed} "
        f"bytes, {result.orphan_files_deleted} orphan files"
    )
    return result
