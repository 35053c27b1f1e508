"""Blob uploads: sessions, chunks, completion, cancellation and expiry.

Bytes go straight from the request body into a storage writer and through the hasher in the
same pass; nothing holds a whole blob. A session's size lives in PostgreSQL and a lease (a
Redis lock renewed while its request writes) keeps two requests from writing the same session
at once, so any replica may take the next chunk, and a replica that dies mid-chunk lets go of
the session within seconds.

The recorded size is the truth about a session: a chunk is written at that offset (whatever a
cut-off or dead request left beyond it is dropped), a chunk that does not arrive whole is rolled
back so the client can resume from the offset the status GET reports, and the bytes are hashed
again from the store at completion unless one hasher saw every one of them as it was written.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from registry.db import blobs, uploads
from registry.oci.digest import DEFAULT_ALGORITHM, Digest, StreamHasher
from registry.rbac import ProjectRef
from registry.services import lease, notify, quota
from registry.services.blob import BlobInfo
from registry.services.context import Backends
from registry.services.errors import (
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    QuotaExceeded,
    RangeInvalid,
    SizeInvalid,
)
from registry.storage import layout
from registry.storage.base import FileWriter, InvalidOffsetError, PathNotFoundError

log = logging.getLogger(__name__)

# A push of the same digest waits this long for another one to finish storing it; the holder
# renews its lease while it works, and a dead holder's lease is gone within seconds.
_BLOB_LEASE_WAIT_SECONDS = 600.0
_CONTENT_RANGE = re.compile(r"(?:bytes[ =]?)?([0-9]+)-([0-9]+)(?:/(?:[0-9]+|\*))?")


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


async def _exclusive(b: Backends, upload_id: uuid.UUID) -> lease.Lease:
    try:
        return await lease.acquire(b.redis, f"berth:upload:{upload_id}")
    except lease.LeaseBusy:
        raise BlobUploadInvalid("another request is writing to this upload") from None


async def _pour(
    body: AsyncIterator[bytes],
    writer: FileWriter,
    hasher: StreamHasher | None,
    held: lease.Lease | None = None,
) -> int:
    written = 0
    async for chunk in body:
        if not chunk:
            continue
        if held is not None:
            # Once the lease is gone another request may be writing this upload: stop at once.
            _check_held(held)
        await writer.write(chunk)
        if hasher is not None:
            hasher.update(chunk)
        written += len(chunk)
    return written


def _check_held(held: lease.Lease) -> None:
    try:
        held.check()
    except lease.LeaseLost:
        raise BlobUploadInvalid("the upload was taken over by another request") from None


def parse_content_range(header: str) -> tuple[int, int]:
    """``start-end`` (inclusive; a ``bytes `` prefix is tolerated) → (start, end)."""
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise BlobUploadInvalid(f"malformed Content-Range {header!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise BlobUploadInvalid(f"malformed Content-Range {header!r}")
    return start, end


def _expected_length(
    session: UploadState, content_range: str | None, content_length: int | None
) -> int | None:
    """How many bytes the request announces; RangeInvalid (416) unless a Content-Range
    continues exactly where the session stands."""
    if content_range is None:
        return content_length
    start, end = parse_content_range(content_range)
    if start != session.size:
        raise RangeInvalid(session.size)
    if content_length is not None and content_length != end - start + 1:
        raise RangeInvalid(session.size, "Content-Length does not match Content-Range")
    return end - start + 1


async def _begin_write(b: Backends, session: UploadState) -> int:
    """Count this request as the session's next writer, before it writes; its number."""
    number = await uploads.begin_write(b.db, session.id, session.size)
    if number is None:
        raise RangeInvalid(session.size, "the upload moved concurrently")
    return number


def _continuing_hasher(
    b: Backends, session: UploadState, writer_number: int, algorithms: tuple[str, ...]
) -> StreamHasher | None:
    """A hasher that has seen every stored byte, or None when the digest must be computed
    from the store at completion."""
    if session.size == 0:
        return StreamHasher(algorithms)
    hasher = b.hashers.resume(session.id, session.size, writer_number)
    if hasher is not None and not all(hasher.has(a) for a in algorithms):
        return None
    return hasher


async def _writer_at_offset(b: Backends, session: UploadState) -> FileWriter:
    """A writer positioned at the session's recorded size."""
    path = layout.upload_path(session.id)
    if session.size == 0:
        return await b.storage.writer(path)
    try:
        return await b.storage.writer(path, append=True, offset=session.size)
    except (InvalidOffsetError, PathNotFoundError):
        # The store lost bytes the session recorded: nothing can complete this upload.
        await _discard(b, session.id, uncommitted=True)
        raise BlobUploadInvalid(
            "the upload's stored bytes are gone; start a new upload",
            {"uuid": str(session.id)},
        ) from None


async def _write_chunk(
    b: Backends,
    session: UploadState,
    body: AsyncIterator[bytes],
    expected_length: int | None,
    hasher: StreamHasher | None,
    held: lease.Lease,
) -> tuple[FileWriter, int]:
    """Write one request body at the session's offset; a body that does not arrive whole is
    rolled back, leaving the session as it was."""
    writer = await _writer_at_offset(b, session)
    try:
        written = await _pour(body, writer, hasher, held)
        if expected_length is not None and written != expected_length:
            raise SizeInvalid(f"expected {expected_length} bytes, received {written}")
        _check_held(held)
    except BaseException:
        b.hashers.forget(session.id)
        await writer.rollback()
        raise
    return writer, written


@contextlib.asynccontextmanager
async def announcing_quota_refusal(
    b: Backends, project: ProjectRef, repository: str, operator: str, digest: str = ""
) -> AsyncIterator[None]:
    """A push refused for the quota is also a QUOTA_EXCEED event for the project's webhooks."""
    try:
        yield
    except QuotaExceeded as exc:
        notify.quota_exceeded(b, project, repository, exc.message, operator, digest=digest)
        raise


async def append_chunk(
    b: Backends,
    project: ProjectRef,
    repository: str,
    upload_id: uuid.UUID,
    body: AsyncIterator[bytes],
    content_range: str | None,
    content_length: int | None,
    *,
    operator: str,
) -> UploadState:
    """Append a PATCH body. With Content-Range it must start where the upload stands."""
    async with announcing_quota_refusal(b, project, repository, operator):
        return await _append_chunk(b, repository, upload_id, body, content_range, content_length)


async def _append_chunk(
    b: Backends,
    repository: str,
    upload_id: uuid.UUID,
    body: AsyncIterator[bytes],
    content_range: str | None,
    content_length: int | None,
) -> UploadState:
    session = await _session(b, repository, upload_id)
    expected_length = _expected_length(session, content_range, content_length)
    if expected_length is not None:
        room = await quota.remaining(b.db, session.project_id)
        if room is not None and session.size + expected_length > room:
            await quota.check_room(b.db, session.project_id, session.size + expected_length)
    async with await _exclusive(b, upload_id) as held:
        # Re-read under the lease: another replica may have advanced it meanwhile.
        session = await _session(b, repository, upload_id)
        _expected_length(session, content_range, content_length)
        writer_number = await _begin_write(b, session)
        hasher = _continuing_hasher(b, session, writer_number, (DEFAULT_ALGORITHM,))
        writer, written = await _write_chunk(b, session, body, expected_length, hasher, held)
        await writer.close()
        new_size = session.size + written
        if not await uploads.advance(b.db, upload_id, session.size, new_size):
            raise BlobUploadInvalid("upload moved concurrently")
        if hasher is not None:
            b.hashers.keep(upload_id, hasher, writer_number)
    return UploadState(upload_id, repository, new_size, session.project_id)


async def complete_upload(
    b: Backends,
    project: ProjectRef,
    repository: str,
    upload_id: uuid.UUID,
    digest: Digest,
    body: AsyncIterator[bytes],
    content_range: str | None = None,
    content_length: int | None = None,
    *,
    operator: str,
) -> BlobInfo:
    """Write the final PUT's body (may be empty), verify the digest, and store the blob."""
    async with announcing_quota_refusal(b, project, repository, operator, str(digest)):
        return await _complete_upload(
            b, project, repository, upload_id, digest, body, content_range, content_length
        )


async def _complete_upload(
    b: Backends,
    project: ProjectRef,
    repository: str,
    upload_id: uuid.UUID,
    digest: Digest,
    body: AsyncIterator[bytes],
    content_range: str | None,
    content_length: int | None,
) -> BlobInfo:
    session = await _session(b, repository, upload_id)
    expected_length = _expected_length(session, content_range, content_length)
    async with await _exclusive(b, upload_id) as held:
        session = await _session(b, repository, upload_id)
        _expected_length(session, content_range, content_length)
        writer_number = await _begin_write(b, session)
        algorithms = tuple(dict.fromkeys((DEFAULT_ALGORITHM, digest.algorithm)))
        hasher = _continuing_hasher(b, session, writer_number, algorithms)
        writer, written = await _write_chunk(b, session, body, expected_length, hasher, held)
        path = layout.upload_path(upload_id)
        try:
            await writer.commit()
        except BaseException:
            await _discard(b, upload_id, uncommitted=True)
            raise
        try:
            return await _store(b, project, path, digest, session.size + written, hasher)
        finally:
            b.hashers.forget(upload_id)
            await _discard(b, upload_id)


async def upload_whole(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: Digest,
    body: AsyncIterator[bytes],
    content_length: int | None,
    *,
    operator: str,
) -> BlobInfo:
    """A monolithic upload (POST with ``digest``): no session is recorded."""
    async with announcing_quota_refusal(b, project, repository, operator, str(digest)):
        return await _upload_whole(b, project, digest, body, content_length)


async def _upload_whole(
    b: Backends,
    project: ProjectRef,
    digest: Digest,
    body: AsyncIterator[bytes],
    content_length: int | None,
) -> BlobInfo:
    upload_id = uuid.uuid4()
    path = layout.upload_path(upload_id)
    hasher = StreamHasher(tuple(dict.fromkeys((DEFAULT_ALGORITHM, digest.algorithm))))
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


async def _stored_digest(
    b: Backends, path: str, digest: Digest, size: int, hasher: StreamHasher | None
) -> Digest:
    """The digest of the committed bytes at ``path``. A hasher that saw all ``size`` bytes as
    they were written is trusted once the store confirms it holds that many; otherwise the
    bytes are read back and hashed."""
    if (
        hasher is not None
        and hasher.has(digest.algorithm)
        and hasher.size == size
        and (await b.storage.stat(path)).size == size
    ):
        return hasher.digest(digest.algorithm)
    return await _digest_of_stored(b, path, digest.algorithm)


async def _store(
    b: Backends,
    project: ProjectRef,
    path: str,
    digest: Digest,
    size: int,
    hasher: StreamHasher | None,
) -> BlobInfo:
    """Verify the committed upload at ``path`` and move it into the blob store."""
    actual = await _stored_digest(b, path, digest, size, hasher)
    if actual != digest:
        raise DigestInvalid(
            "provided digest did not match uploaded content",
            {"expected": str(digest), "actual": str(actual)},
        )
    already_held = await blobs.find_in_project(b.db, project.id, str(digest)) is not None
    if not already_held:
        await quota.check_room(b.db, project.id, size)  # fail before moving anything
    # Clients often push the same layer in parallel; one of them moves the bytes into place,
    # the others find the blob recorded and drop their copy. A blob recorded before its bytes
    # were checked is not trusted: this verified copy replaces its bytes.
    async with await lease.acquire(
        b.redis, f"berth:blob:{digest}", wait_seconds=_BLOB_LEASE_WAIT_SECONDS
    ) as held:
        existing = await blobs.find(b.db, str(digest))
        if existing is None or not existing["verified"]:
            _check_held(held)
            await b.storage.move(path, layout.blob_path(digest))
        blob_id = await blobs.record_verified(b.db, str(digest), size)
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
