"""Reading, stat-ing, mounting and unlinking blobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

import asyncpg

from registry.db import blobs, projects
from registry.oci.digest import Digest, InvalidDigestError
from registry.rbac import ProjectRef
from registry.services import quota, read_cache
from registry.services.context import Backends
from registry.services.errors import BlobUnknown, DigestInvalid
from registry.storage import layout
from registry.storage.base import PathNotFoundError


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int


def parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigestError as exc:
        raise DigestInvalid(str(exc), {"digest": text}) from None


async def stat_blob(
    b: Backends,
    project: ProjectRef,
    digest: Digest,
    facts: read_cache.ProjectFacts | None = None,
) -> BlobInfo:
    """The blob as seen from ``project``: unknown unless the project holds it."""
    known = facts.blobs.get(str(digest)) if facts is not None else None
    if known is None:
        row = await blobs.find_in_project(b.db, project.id, str(digest))
        if row is None:
            raise BlobUnknown(detail={"digest": str(digest)})
        known = read_cache.CachedBlob(row["id"], row["size"], row["touched_at"])
        if facts is not None:
            facts.remember_blob(str(digest), known)
    # A client checking for a blob may be about to reference it in a manifest: keep garbage
    # collection off it. Written only when the last touch is getting old, so rarely.
    now = datetime.now(UTC)
    if (now - known.touched_at).total_seconds() > b.settings.gc_grace_seconds / 4:
        await blobs.touch(b.db, project.id, known.blob_id)
        known.touched_at = now
    return BlobInfo(digest, known.size)


async def read_blob(
    b: Backends, digest: Digest, offset: int = 0, length: int | None = None
) -> AsyncIterator[bytes]:
    """Stream a blob's bytes; the caller has already checked the project holds it."""
    try:
        async for chunk in b.storage.reader(layout.blob_path(digest), offset, length):
            yield chunk
    except PathNotFoundError:
        raise BlobUnknown(detail={"digest": str(digest)}) from None


async def redirect_url(b: Backends, digest: Digest) -> str | None:
    return await b.storage.redirect_url(layout.blob_path(digest))


async def open_blob_file(b: Backends, digest: Digest) -> IO[bytes] | None:
    """The blob opened as a local file for a zero-copy send (the caller closes it), or None
    when storage keeps no local files."""
    try:
        return await b.storage.open_file(layout.blob_path(digest))
    except PathNotFoundError:
        raise BlobUnknown(detail={"digest": str(digest)}) from None


def nginx_blob_uri(b: Backends, digest: Digest) -> str | None:
    """The internal nginx URI that serves the blob's file from the storage root, when Berth is
    configured to hand downloads to nginx (filesystem storage only)."""
    location = b.settings.nginx_blob_location
    if location is None or b.settings.storage.driver != "filesystem":
        return None
    return location + layout.blob_path(digest)


async def mount_blob(b: Backends, target: ProjectRef, source: ProjectRef, digest: Digest) -> bool:
    """Link a blob ``source`` holds into ``target``; False when ``source`` does not hold it, or
    its bytes were stored before Berth checked them against the digest (the client uploads
    them instead, and that upload's verified bytes replace the unchecked ones)."""
    row = await blobs.find_in_project(b.db, source.id, str(digest))
    if row is None or not row["verified"]:
        return False
    if await blobs.find_in_project(b.db, target.id, str(digest)) is None:
        try:
            await quota.link_blob_within_quota(b.db, target.id, row["id"], row["size"])
        except asyncpg.ForeignKeyViolationError:
            return False  # collected a moment ago: the client uploads it instead
    return True


async def projects_holding(b: Backends, digest: Digest) -> list[ProjectRef]:
    rows = await projects.public_holders_of_blob(b.db, str(digest))
    return [ProjectRef(id=r["id"], name=r["name"], public=r["public"]) for r in rows]


async def unlink_blob(b: Backends, project: ProjectRef, digest: Digest) -> None:
    """Remove the blob from the project; its bytes go when garbage collection finds it unused."""
    if not await blobs.unlink_from_project(b.db, project.id, str(digest)):
        raise BlobUnknown(detail={"digest": str(digest)})
    await read_cache.changed(b.redis, project.name)
