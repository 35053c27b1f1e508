"""Accessory tags: cosign's ``sha256-<hex>.sig`` names and the tags of a digest."""

from __future__ import annotations

from registry.replication.copy import accessory_tags, is_accessory_tag

DIGEST = "sha256:" + "ab" * 32


def test_accessory_tags_of_a_digest() -> None:
    tags = accessory_tags(DIGEST)
    assert tags == [f"sha256-{'ab' * 32}{s}" for s in (".sig", ".att", ".sbom")]
    assert all(is_accessory_tag(t) for t in tags)


def test_ordinary_tags_are_not_accessories() -> None:
    for tag in ("latest", "sha256-abc.sig", f"sha256-{'ab' * 32}.txt", f"sha256-{'AB' * 32}.sig"):
        assert not is_accessory_tag(tag)
