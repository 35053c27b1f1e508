"""The adapter contract: what every replication adapter must do against its registry.

One suite for every adapter, whatever answers it: a real registry started by a test
(``docker-registry``, ``harbor`` against a second Berth) or recorded exchanges replayed by a
local server (``docker-hub``, ``quay``, ``github-ghcr``, ``gitlab``). The calls are made in a
fixed order, so a recorded conversation can answer them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from registry.replication.adapter import Adapter, Manifest, Unauthorized

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class ContractImage:
    """A single-platform image: its blobs (config first), manifest and digest."""

    blobs: dict[str, bytes]
    manifest: bytes
    digest: str
    layer: str


async def chunks_of(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def check_adapter_contract(
    adapter: Adapter, repository: str, image: ContractImage, *, deletes_by_digest: bool = True
) -> None:
    """Push an image's blobs and manifest, find it again, list it, delete it.

    ``deletes_by_digest``: the registry forgets the manifest itself when it is deleted (where
    deleting removes tags only, the digest may still answer until the registry cleans up).
    """
    await adapter.ping()
    await adapter.prepare_for_push([repository])
    for digest, data in image.blobs.items():
        assert not await adapter.blob_exists(repository, digest)
        await adapter.push_blob(repository, digest, len(data), chunks_of(data))
        assert await adapter.blob_exists(repository, digest)
    pulled = b"".join([c async for c in adapter.pull_blob(repository, image.layer)])
    assert pulled == image.blobs[image.layer]

    manifest = Manifest(image.manifest, OCI_MANIFEST, image.digest)
    assert await adapter.manifest_digest(repository, "v1") is None
    await adapter.push_manifest(repository, "v1", manifest)
    assert await adapter.manifest_digest(repository, "v1") == image.digest
    fetched = await adapter.pull_manifest(repository, image.digest)
    assert fetched.content == image.manifest
    assert fetched.digest == image.digest

    assert repository in await adapter.list_repositories()
    artifacts = await adapter.list_artifacts(repository)
    assert [(a.digest, a.tags) for a in artifacts] == [(image.digest, ("v1",))]
    assert await adapter.referrers(repository, image.digest) == []

    await adapter.delete_manifest(repository, image.digest)
    assert await adapter.manifest_digest(repository, "v1") is None
    if deletes_by_digest:
        assert await adapter.manifest_digest(repository, image.digest) is None
    assert await adapter.list_artifacts(repository) == []


async def check_refuses_wrong_credentials(adapter: Adapter) -> None:
    with pytest.raises(Unauthorized):
        await adapter.ping()
