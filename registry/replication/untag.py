"""Removing one tag from a registry whose API deletes manifests but not tags.

CNCF Distribution 2.8 (what Debian ships, and Harbor 2.x runs) refuses a tag in
``DELETE /v2/<name>/manifests/<reference>``, and deleting the tag's manifest by digest would
take its other tags, and the artifact, along. What it does do: deleting a manifest by digest
removes every tag that points at it. So the tag is first moved onto a placeholder manifest
made for this one removal (an empty OCI artifact whose annotation no other manifest shares),
and the placeholder is deleted by digest: the tag goes, the artifact and its other tags stay.
Between the two calls a pull of that tag gets the placeholder; the tag is being deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator

from registry.oci import mediatypes
from registry.replication.adapter import Adapter, Manifest, NotFound

EMPTY_CONFIG = b"{}"
EMPTY_CONFIG_DIGEST = "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest()
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
PLACEHOLDER_ARTIFACT_TYPE = "application/vnd.berth.tag-removal.v1"
ANNOTATION = "org.berth.tag-removal"


def placeholder_manifest(repository: str, tag: str, nonce: str) -> Manifest:
    """A manifest no registry holds yet: its annotation names the tag and a fresh nonce."""
    body = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "artifactType": PLACEHOLDER_ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": EMPTY_CONFIG_DIGEST,
            "size": len(EMPTY_CONFIG),
        },
        "layers": [],
        "annotations": {ANNOTATION: f"{repository}:{tag} {nonce}"},
    }
    content = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    return Manifest(content, mediatypes.OCI_MANIFEST, digest)


async def _empty_config() -> AsyncIterator[bytes]:
    yield EMPTY_CONFIG


async def untag_through_placeholder(adapter: Adapter, repository: str, tag: str) -> None:
    """Remove ``tag`` from ``repository``, keeping what it named (``NotFound`` when there is
    no such tag)."""
    if await adapter.manifest_digest(repository, tag) is None:
        raise NotFound(f"{repository}:{tag} not found")
    if not await adapter.blob_exists(repository, EMPTY_CONFIG_DIGEST):
        await adapter.push_blob(repository, EMPTY_CONFIG_DIGEST, len(EMPTY_CONFIG), _empty_config())
    placeholder = placeholder_manifest(repository, tag, os.urandom(16).hex())
    await adapter.push_manifest(repository, tag, placeholder)
    await adapter.delete_manifest(repository, placeholder.digest)
