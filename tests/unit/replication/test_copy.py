"""Accessory tags: cosign's ``sha256-<hex>.sig`` names and the tags of a digest."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from registry.replication.copy import accessory_tags, is_accessory_tag, throttled

DIGEST = "sha256:" + "ab" * 32


def test_accessory_tags_of_a_digest() -> None:
    tags = accessory_tags(DIGEST)
    assert tags == [f"sha256-{'ab' * 32}{s}" for s in (".sig", ".att", ".sbom")]
    assert all(is_accessory_tag(t) for t in tags)


def test_ordinary_tags_are_not_accessories() -> None:
    for tag in ("latest", "sha256-abc.sig", f"sha256-{'ab' * 32}.txt", f"sha256-{'AB' * 32}.sig"):
        assert not is_accessory_tag(tag)


async def test_throttled_keeps_to_the_rate() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 4096

    started = time.monotonic()
    received = b"".join([c async for c in throttled(chunks(), 64)])  # 32 KiB at 64 KiB/s
    elapsed = time.monotonic() - started
    assert len(received) == 32 * 1024
    assert 0.45 <= elapsed < 2.0


async def test_unthrottled_passes_everything_at_once() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 4096

    started = time.monotonic()
    assert len(b"".join([c async for c in throttled(chunks(), 0)])) == 32 * 1024
    assert time.monotonic() - started < 0.2
