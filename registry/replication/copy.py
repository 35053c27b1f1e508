"""Copying one artifact between two adapters: blobs first, then child manifests, then the
manifest itself by digest, then its tags; then what refers to it (OCI referrers and
cosign-style ``sha256-<hex>.sig`` tags), which follows its subject.

Blobs stream from source to destination chunk by chunk; a blob the destination already has
is skipped. Pushing by digest before tagging means a copy cut off half-way leaves nothing a
client could pull by tag that is not complete.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from registry.oci.manifest import InvalidManifestError, parse_manifest
from registry.replication.adapter import Adapter, AdapterError, ChunkedBlobPush, Manifest

Log = Callable[[str], Awaitable[None]]

# Tags cosign (and tools that follow it) attach to ``sha256:<hex>``: signature, attestation,
# SBOM. They are accessories of the artifact, not artifacts of their own.
ACCESSORY_SUFFIXES = (".sig", ".att", ".sbom")
_ACCESSORY_TAG = re.compile(r"^sha256-[0-9a-f]{64}\.(sig|att|sbom)$")


def is_accessory_tag(tag: str) -> bool:
    return bool(_ACCESSORY_TAG.match(tag))


def accessory_tags(digest: str) -> list[str]:
    algorithm, _, hex_digest = digest.partition(":")
    return [f"{algorithm}-{hex_digest}{suffix}" for suffix in ACCESSORY_SUFFIXES]


async def throttled(chunks: AsyncIterator[bytes], kb_per_second: int) -> AsyncIterator[bytes]:
    """``chunks`` at no more than ``kb_per_second`` KiB/s on average (0 or less: as fast as
    they come), as Harbor's policy ``speed`` asks."""
    if kb_per_second <= 0:
        async for chunk in chunks:
            yield chunk
        return
    rate = kb_per_second * 1024
    started = time.monotonic()
    sent = 0
    async for chunk in chunks:
        yield chunk
        sent += len(chunk)
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)


@dataclass
class CopyStats:
    manifests: int = 0
    blobs_copied: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    skipped_tags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "manifests": self.manifests,
            "blobs_copied": self.blobs_copied,
            "blobs_skipped": self.blobs_skipped,
            "bytes_copied": self.bytes_copied,
            "skipped_tags": self.skipped_tags,
        }


@dataclass
class Copier:
    source: Adapter
    destination: Adapter
    source_repository: str
    destination_repository: str
    log: Log
    kb_per_second: int = 0
    # Bytes a request with ``copy_by_chunk`` (0: one request a blob).
    chunk_size: int = 0
    stats: CopyStats = field(default_factory=CopyStats)
    _done: set[str] = field(default_factory=set)

    async def copy_artifact(self, digest: str, tags: list[str], *, override: bool) -> CopyStats:
        """Copy the artifact ``digest`` with ``tags`` (an existing destination tag that names
        another artifact is left alone unless ``override``), and its accessories."""
        wanted = []
        for tag in tags:
            current = await self.destination.manifest_digest(self.destination_repository, tag)
            if current is not None and current != digest and not override:
                await self.log(f"tag {tag} exists at the destination ({current}); not overridden")
                self.stats.skipped_tags.append(tag)
                continue
            wanted.append(tag)
        if tags and not wanted:
            return self.stats
        manifest = await self.copy_manifest(digest)
        for tag in wanted:
            await self.destination.push_manifest(self.destination_repository, tag, manifest)
            await self.log(f"tagged {self.destination_repository}:{tag} -> {digest}")
        await self.copy_accessories(digest)
        return self.stats

    async def copy_manifest(self, digest: str) -> Manifest:
        """Push the manifest ``digest`` and everything it needs, by digest."""
        manifest = await self.source.pull_manifest(self.source_repository, digest)
        if manifest.digest != digest:
            raise AdapterError(f"the source sent {manifest.digest} for {digest}")
        if digest in self._done:
            return manifest
        try:
            parsed = parse_manifest(manifest.content, manifest.media_type)
        except InvalidManifestError as exc:
            raise AdapterError(f"manifest {digest} cannot be read: {exc}") from None
        for child in parsed.children:
            await self.copy_manifest(child.digest)
        for blob in parsed.blobs:
            await self.copy_blob(blob.digest, blob.size)
        if await self.destination.manifest_digest(self.destination_repository, digest) is None:
            await self.destination.push_manifest(self.destination_repository, digest, manifest)
            self.stats.manifests += 1
            await self.log(f"pushed manifest {digest} ({parsed.media_type})")
        self._done.add(digest)
        return manifest

    async def copy_blob(self, digest: str, size: int) -> None:
        if digest in self._done:
            return
        if await self.destination.blob_exists(self.destination_repository, digest):
            self.stats.blobs_skipped += 1
            await self.log(f"blob {digest} exists at the destination; skipped")
        else:
            chunks = throttled(
                self.source.pull_blob(self.source_repository, digest), self.kb_per_second
            )
            chunked = self._chunked()
            if chunked is not None:
                await chunked.push_blob_chunked(
                    self.destination_repository, digest, size, chunks, self.chunk_size
                )
            else:
                await self.destination.push_blob(self.destination_repository, digest, size, chunks)
            self.stats.blobs_copied += 1
            self.stats.bytes_copied += size
            how = f" in chunks of {self.chunk_size} bytes" if chunked is not None else ""
            await self.log(f"copied blob {digest} ({size} bytes){how}")
        self._done.add(digest)

    def _chunked(self) -> ChunkedBlobPush | None:
        """The destination, when blobs go to it in chunks."""
        destination = self.destination
        if (
            self.chunk_size > 0
            and destination.info().supported_copy_by_chunk
            and isinstance(destination, ChunkedBlobPush)
        ):
            return destination
        return None

    async def copy_accessories(self, digest: str) -> None:
        """Referrers (by the OCI subject) and cosign-style tags follow their subject."""
        for referrer in await self.source.referrers(self.source_repository, digest):
            if referrer not in self._done:
                await self.copy_manifest(referrer)
                await self.copy_accessories(referrer)
        for tag in accessory_tags(digest):
            found = await self.source.manifest_digest(self.source_repository, tag)
            if found is None:
                continue
            manifest = await self.copy_manifest(found)
            await self.destination.push_manifest(self.destination_repository, tag, manifest)
            await self.log(f"copied accessory {tag}")
