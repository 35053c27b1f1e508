"""What replication needs from a registry, local or remote: one small protocol.

The copy engine (:mod:`registry.replication.copy`) works only through it, so copying from a
Distribution registry into Berth and from Berth into a Harbor are the same code. Blobs pass
through as async iterators of chunks: no blob is ever held whole in memory or on disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class AdapterError(Exception):
    """The registry answered, but not as the operation needed (the message says how)."""


class Unreachable(AdapterError):
    """The registry could not be reached or answered 5xx/429: a later attempt may succeed."""


class NotFound(AdapterError):
    """The repository, manifest or blob does not exist there."""


class Unauthorized(AdapterError):
    """The registry refused the credentials (or gave no token for the scope)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    content: bytes
    media_type: str
    digest: str


@dataclass(frozen=True, slots=True)
class RemoteArtifact:
    """An artifact found while listing: its digest and the tags that point at it."""

    digest: str
    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """Harbor's ``RegistryInfo`` of an adapter."""

    type: str
    description: str
    supported_triggers: tuple[str, ...] = ("manual", "scheduled")
    supported_resource_filters: tuple[dict[str, object], ...] = field(
        default=(
            {"type": "name", "style": "input"},
            {"type": "tag", "style": "input"},
        )
    )
    supported_repository_path_component_type: str = ""
    supported_copy_by_chunk: bool = False

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "type": self.type,
            "description": self.description,
            "supported_resource_filters": list(self.supported_resource_filters),
            "supported_triggers": list(self.supported_triggers),
            "supported_copy_by_chunk": self.supported_copy_by_chunk,
        }
        if self.supported_repository_path_component_type:
            body["supported_repository_path_component_type"] = (
                self.supported_repository_path_component_type
            )
        return body


class Adapter(Protocol):
    """One registry as replication sees it. Repository names are full paths
    (``project/name`` on Berth and Harbor)."""

    async def ping(self) -> None:
        """Return when the registry answers and accepts the credentials; raise
        ``Unreachable`` or ``Unauthorized`` (or ``AdapterError``) otherwise."""

    def info(self) -> RegistryInfo:
        """What this kind of registry supports."""

    async def list_repositories(self) -> list[str]:
        """Every repository the credentials may see."""

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        """The repository's tagged artifacts, each with its tags (an empty list when the
        repository does not exist)."""

    async def prepare_for_push(self, repositories: list[str]) -> None:
        """Make pushing into these repositories possible (create missing projects)."""

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest ``reference`` (tag or digest) names there, or None when it names
        nothing."""

    async def pull_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest exactly as stored (its bytes are what its digest is taken of)."""

    async def push_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        """Store the manifest under ``reference`` (a tag, or its own digest)."""

    async def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete the artifact (``NotFound`` when it is not there)."""

    async def delete_tag(self, repository: str, tag: str) -> None:
        """Remove one tag, keeping the artifact (``NotFound`` when it is not there)."""

    async def blob_exists(self, repository: str, digest: str) -> bool:
        """Whether pushing the blob into ``repository`` can be skipped."""

    def pull_blob(self, repository: str, digest: str) -> AsyncIterator[bytes]:
        """The blob's bytes, in chunks, as they arrive."""

    async def open_blob(self, repository: str, digest: str) -> tuple[int, AsyncIterator[bytes]]:
        """The blob's size and its chunks, to serve on (``pull_blob`` when the size is needed
        before the first byte)."""

    async def push_blob(
        self, repository: str, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        """Store ``size`` bytes read from ``chunks`` as the blob ``digest``; the registry
        checks them against the digest."""

    async def referrers(self, repository: str, digest: str) -> list[str]:
        """Digests of the manifests whose subject is ``digest`` (OCI referrers; an empty list
        where the registry has no referrers API)."""

    async def close(self) -> None:
        """Release connections."""


@runtime_checkable
class ChunkedBlobPush(Protocol):
    """A destination that takes a blob as a series of bounded ``PATCH`` uploads (a policy's
    ``copy_by_chunk``): a cut-off copy loses one chunk, not the blob, and no request carries
    more than ``chunk_size`` bytes (what proxies with a body limit need)."""

    async def push_blob_chunked(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: AsyncIterator[bytes],
        chunk_size: int,
    ) -> None:
        """Store ``size`` bytes from ``chunks`` as ``digest``, ``chunk_size`` bytes a request."""
