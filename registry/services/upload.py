"""Blob uploads: sessions, chunks, completion, cancellation and expiry.

Bytes go straight from the request body into a storage writer and through the hasher in the
same pass; nothing holds a whole blob. A session's size lives in PostgreSQL and a short Redis
lock keeps two requests from writing the same session at once, so any replica may take the
next chunk.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import LockError

from registry.db import blobs, uploads
from registry.oci.digest import DEFAULT_ALGORITHM, Digest, StreamHasher
from registry.rbac import ProjectRef
from registry.services import quota
from registry.services.blob import BlobInfo
from registry.services.context import Backends
from registry.services.errors import (
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    RangeInvalid,
    SizeInvalid,
)
from registry.storage import layout
from registry.storage.base import FileWriter, PathNotFoundError

log = logging.getLogger(__name__)

# Long enough for a multi-GiB PATCH on a slow link; a crashed holder frees it after this.
_LOCK_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class UploadState:
    id: uuid.UUID
    repository: str
    size: int
    project_id: int


def parse_upload_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BlobUploadUnknown(detail={"uuid": text}) from None


async def start_upload(b: Backends, project: ProjectRef, repository: str) -> UploadState:
    upload_id = uuid.uuid4()
    await uploads.create(b.db, upload_id, repository, project.id)
    return UploadState(upload_id, repository, 0, project.id)


async def _session(b: Backends, repository: str, upload_id: uuid.UUID) -> UploadState:
    row = await uploads.get(b.db, upload_id)
    expired_before = datetime.now(UTC) - timedelta(seconds=b.settings.upload_expiry_seconds)
    if row is None or row["repository"] != repository or row["updated_at"] < expired_before:
        raise BlobUploadUnknown(detail={"uuid": str(upload_id)})
    return UploadState(upload_id, repository, row["size"], row["project_id"])


async def upload_status(b: Backends, repository: str, upload_id: uuid.UUID) -> UploadState:
    return await _session(b, repository, upload_id)


@contextlib.asynccontextmanager
async def _exclusive(b: Backends, upload_id: uuid.UUID) -> AsyncGenerator[None, None]:
    lock = b.redis.lock(f"berth:upload:{upload_id}", timeout=_LOCK_SECONDS, blocking=False)
    if not await lock.acquire():
        raise BlobUploadInvalid("another request is writing to this upload")
    try:
        yield
    finally:
        with contextlib.suppress(LockError):
            await lock.release()


async def _pour(body: AsyncIterator[bytes], writer: FileWriter, hasher: StreamHasher | None) -> int:
    written = 0
    async for chunk in body:
        if not chunk:
            continue
        await writer.write(chunk)
        if hasher is not None:
            hasher.update(chunk)
        written += len(chunk)
    return written


def parse_content_range(header: str) -> tuple[int, int]:
    """``start-end`` (inclusive; a ``bytes `` prefix is tolerated) → (start, end)."""
    value = header.strip().removeprefix("bytes").strip().split("/", 1)[0]
    start_text, sep, end_text = value.partition("-")
    if not sep or not start_text.isdigit() or not end_text.isdigit():
        raise BlobUploadInvalid(f"malformed Content-Range {header!r}")
    start, end = int(start_text), int(end_text)
    if end < start:
        raise BlobUploadInvalid(f"malformed Content-Range {header!r}")
    return start, end


async def append_chunk(
    b: Backends,
    repository: str,
    upload_id: uuid.UUID,
    body: AsyncIterator[bytes],
    content_range: str | None,
    content_length: int | None,
) -> UploadState:
    """Append a PATCH body. With Content-Range it must start where the upload stands."""
    session = await _session(b, repository, upload_id)
    expected_length = content_length
    if content_range is not None:
        start, end = parse_content_range(content_range)
        if start != session.size:
            raise RangeInvalid(session.size)
        if content_length is not None and content_length != end - start + 1:
            raise RangeInvalid(session.size, "Content-Length does not match Content-Range")
        expected_length = end - start + 1
    if expected_length is not None:
        room = await quota.remaining(b.db, session.project_id)
        if room is not None and session.size + expected_length > room:
            await quota.check_room(b.db, session.project_id, session.size + expected_length)
    async with _exclusive(b, upload_id):
        # Re-read under the lock: another replica may have advanced it meanwhile.
        session = await _session(b, repository, upload_id)
        if content_range is not None and parse_content_range(content_range)[0] != session.size:
            raise RangeInvalid(session.size)
        hasher = b.hashers.resume(upload_id, session.size)
        if hasher is None and session.size == 0:
            hasher = StreamHasher()
        path = layout.upload_path(upload_id)
        writer = await b.storage.writer(path, append=session.size > 0)
        try:
            written = await _pour(body, writer, hasher)
        finally:
            await writer.close()
        if expected_length is not None and written != expected_length:
            # The stored tail no longer matches the session: drop the whole upload rather
            # than leave a session whose bytes disagree with its recorded size.
            await _discard(b, upload_id, uncommitted=True)
            raise SizeInvalid(f"expected {expected_length} bytes, received {written}")
        new_size = session.size + written
        if not await uploads.advance(b.db, upload_id, session.size, new_size):
            raise BlobUploadInvalid("upload moved concurrently")
        if hasher is not None:
            b.hashers.keep(upload_id, hasher)
    return UploadState(upload_id, repository, new_size, session.project_id)


async def complete_upload(
    b: Backends,
    project: ProjectRef,
    repository: str,
    upload_id: uuid.UUID,
    digest: Digest,
    body: AsyncIterator[bytes],
) -> BlobInfo:
    """Write the final PUT's body (may be empty), verify the digest, and store the blob."""
    session = await _session(b, repository, upload_id)
    async with _exclusive(b, upload_id):
        session = await _session(b, repository, upload_id)
        hasher = b.hashers.resume(upload_id, session.size)
        if session.size == 0:
            hasher = StreamHasher(tuple({DEFAULT_ALGORITHM, digest.algorithm}))
        elif hasher is not None and not hasher.has(digest.algorithm):
            hasher = None
        path = layout.upload_path(upload_id)
        writer = await b.storage.writer(path, append=session.size > 0)
        try:
            written = await _pour(body, writer, hasher)
            await writer.commit()
        except BaseException:
            await _discard(b, upload_id, uncommitted=True)
            raise
        size = session.size + written
        try:
            return await _store(b, project, path, digest, size, hasher)
        finally:
            b.hashers.forget(upload_id)
            await _discard(b, upload_id)


async def upload_whole(
    b: Backends,
    project: ProjectRef,
    digest: Digest,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> BlobInfo:
    """A monolithic upload (POST with ``digest``): no session is recorded."""
    upload_id = uuid.uuid4()
    path = layout.upload_path(upload_id)
    hasher = StreamHasher(tuple({DEFAULT_ALGORITHM, digest.algorithm}))
    writer = await b.storage.writer(path)
    try:
        written = await _pour(body, writer, hasher)
        if content_length is not None and written != content_length:
            raise SizeInvalid(f"expected {content_length} bytes, received {written}")
        await writer.commit()
    except BaseException:
        with contextlib.suppress(PathNotFoundError):
            await writer.cancel()
        raise
    try:
        return await _store(b, project, path, digest, written, hasher)
    finally:
        with contextlib.suppress(PathNotFoundError):
            await b.storage.delete(layout.upload_dir(upload_id))


async def _digest_of_stored(b: Backends, path: str, algorithm: str) -> Digest:
    hasher = StreamHasher((algorithm,))
    async for chunk in b.storage.reader(path):
        hasher.update(chunk)
    return hasher.digest(algorithm)


async def _store(
    b: Backends,
    project: ProjectRef,
    path: str,
    digest: Digest,
    size: int,
    hasher: StreamHasher | None,
) -> BlobInfo:
    """Verify the committed upload at ``path`` and move it into the blob store."""
    if hasher is not None and hasher.has(digest.algorithm) and hasher.size == size:
        actual = hasher.digest(digest.algorithm)
    else:
        actual = await _digest_of_stored(b, path, digest.algorithm)
    if actual != digest:
        raise DigestInvalid(
            "provided digest did not match uploaded content",
            {"expected": str(digest), "actual": str(actual)},
        )
    already_held = await blobs.find_in_project(b.db, project.id, str(digest)) is not None
    if not already_held:
        await quota.check_room(b.db, project.id, size)  # fail before moving anything
    # Clients often push the same layer in parallel; one of them moves the bytes into place,
    # the others find the blob recorded and drop their copy.
    async with b.redis.lock(
        f"berth:blob:{digest}", timeout=_LOCK_SECONDS, blocking_timeout=_LOCK_SECONDS
    ):
        if not await blobs.exists(b.db, str(digest)):
            await b.storage.move(path, layout.blob_path(digest))
        blob_id = await blobs.record(b.db, str(digest), size)
    if not already_held:
        await quota.link_blob_within_quota(b.db, project.id, blob_id, size)
    return BlobInfo(digest, size)


async def _discard(b: Backends, upload_id: uuid.UUID, *, uncommitted: bool = False) -> None:
    b.hashers.forget(upload_id)
    if uncommitted:
        # Bytes of a writer that was never committed (an S3 multipart upload) are not under
        # the directory; opening a fresh writer and cancelling it discards them.
        with contextlib.suppress(PathNotFoundError):
            writer = await b.storage.writer(layout.upload_path(upload_id), append=False)
            await writer.cancel()
    with contextlib.suppress(PathNotFoundError):
        await b.storage.delete(layout.upload_dir(upload_id))
    await uploads.delete(b.db, upload_id)


async def cancel_upload(b: Backends, repository: str, upload_id: uuid.UUID) -> None:
    await _session(b, repository, upload_id)
    await _discard(b, upload_id, uncommitted=True)


async def purge_expired_uploads(b: Backends) -> int:
    """Remove sessions idle for longer than the configured expiry; return how many."""
    cutoff = datetime.now(UTC) - timedelta(seconds=b.settings.upload_expiry_seconds)
    purged = 0
    for upload_id in await uploads.idle_since(b.db, cutoff):
        await _discard(b, upload_id, uncommitted=True)
        purged += 1
    if purged:
        log.info("purged %d expired upload sessions", purged)
    return purged
