"""The placeholder that carries a tag away on registries that cannot delete a tag alone."""

from __future__ import annotations

import hashlib
import json

from registry.oci.manifest import parse_manifest
from registry.replication.untag import (
    EMPTY_CONFIG,
    EMPTY_CONFIG_DIGEST,
    placeholder_manifest,
)


def test_placeholder_is_a_valid_oci_manifest_on_the_empty_config() -> None:
    placeholder = placeholder_manifest("team/web", "v1", "00ff")
    parsed = parse_manifest(placeholder.content, placeholder.media_type)
    assert [b.digest for b in parsed.blobs] == [EMPTY_CONFIG_DIGEST]
    assert "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest() == EMPTY_CONFIG_DIGEST
    assert placeholder.digest == "sha256:" + hashlib.sha256(placeholder.content).hexdigest()
    annotations = json.loads(placeholder.content)["annotations"]
    assert list(annotations.values()) == ["team/web:v1 00ff"]


def test_each_removal_gets_its_own_placeholder() -> None:
    # Deleting the placeholder by digest removes every tag on it: two removals must never
    # share one, nor one a real artifact's digest.
    digests = {placeholder_manifest("team/web", "v1", nonce).digest for nonce in ("a", "b")}
    digests.add(placeholder_manifest("team/web", "v2", "a").digest)
    assert len(digests) == 3
