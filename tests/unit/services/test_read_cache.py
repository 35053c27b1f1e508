from __future__ import annotations

import socket
from datetime import UTC, datetime

from redis.asyncio import Redis

from registry.rbac import ProjectRef
from registry.services import read_cache
from registry.services.read_cache import CachedBlob, CachedManifest, ProjectFacts, ReadCache


def _facts(name: str = "library") -> ProjectFacts:
    return ProjectFacts(name, (b"a", b"b"), 0.0, ProjectRef(1, name, True))


def _manifest(digest: str, size: int = 10) -> CachedManifest:
    return CachedManifest(digest, "application/json", b"x" * size, 1, 1)


def test_a_manifest_is_served_only_under_the_facts_it_was_read_with() -> None:
    cache = ReadCache()
    facts = _facts()
    cache.remember_manifest(facts, "library/app", _manifest("sha256:1"))
    assert cache.manifest(facts, "library/app", "sha256:1") == _manifest("sha256:1")
    assert cache.manifest(facts, "library/other", "sha256:1") is None
    # Facts read under a newer stamp do not see what older ones cached.
    assert cache.manifest(_facts(), "library/app", "sha256:1") is None
    # Facts the process dropped keep nothing more.
    facts.live = False
    cache.remember_manifest(facts, "library/app", _manifest("sha256:2"))
    assert cache.manifest(facts, "library/app", "sha256:2") is None


def test_manifests_stay_within_the_budget() -> None:
    cache = ReadCache()
    facts = _facts()
    big = read_cache.MAX_CACHED_MANIFEST_BYTES
    cache.remember_manifest(facts, "library/app", _manifest("sha256:huge", big + 1))
    assert cache.manifest(facts, "library/app", "sha256:huge") is None
    count = read_cache.MANIFEST_BUDGET_BYTES // big + 2
    for i in range(count):
        cache.remember_manifest(facts, "library/app", _manifest(f"sha256:{i}", big))
        cache.remember_manifest(facts, "library/app", _manifest(f"sha256:{i}", big))
    assert cache.manifest(facts, "library/app", "sha256:0") is None
    assert cache.manifest(facts, "library/app", f"sha256:{count - 1}") is not None
    assert facts.manifest_bytes <= read_cache.MANIFEST_BUDGET_BYTES


def test_tags_and_blobs_are_bounded_per_project() -> None:
    facts = _facts()
    for i in range(read_cache.MAX_ENTRIES + 1):
        facts.remember_tag("library/app", f"t{i}", "sha256:1", i)
        facts.remember_blob(f"sha256:{i}", CachedBlob(i, 1, datetime.now(UTC)))
    assert len(facts.tags) <= read_cache.MAX_ENTRIES
    assert len(facts.blobs) <= read_cache.MAX_ENTRIES
    assert facts.tags[("library/app", f"t{read_cache.MAX_ENTRIES}")] == (
        "sha256:1",
        read_cache.MAX_ENTRIES,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_without_redis_nothing_is_cached_and_changes_are_not_fatal() -> None:
    redis = Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=1)
    cache = ReadCache()
    cache.remember_manifest(_facts(), "library/app", _manifest("sha256:1"))
    try:
        assert await cache.facts(redis, "library") is None
        await read_cache.changed(redis, "library")
        await read_cache.changed_everywhere(redis)
    finally:
        await redis.aclose()
    assert cache.manifest(_facts(), "library/app", "sha256:1") is None
