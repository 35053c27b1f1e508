"""The read cache's stamp reads on a real Redis: requests asking at once share reads, and a
request never takes a read that began before it asked (it would miss a change announced in
between)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from registry.services import read_cache
from registry.services.read_cache import ReadCache


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def _count_reads(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each MGET the client sends, as the loop time its answer came back."""
    reads: list[float] = []
    real = redis.mget

    async def mget(*args: Any, **kwargs: Any) -> Any:
        answer = await real(*args, **kwargs)
        reads.append(asyncio.get_running_loop().time())
        return answer

    monkeypatch.setattr(redis, "mget", mget)
    return reads


async def test_requests_asking_at_once_share_two_reads(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"stamps-{secrets.token_hex(4)}"
    cache = ReadCache()
    await cache.facts(redis, project)  # sets the project's first stamp
    reads = _count_reads(redis, monkeypatch)
    found = await asyncio.gather(*(cache.facts(redis, project) for _ in range(50)))
    # The first asks alone; the 49 that asked while its read was out share the next one.
    assert len(reads) == 2
    assert all(facts is found[0] for facts in found)


async def test_a_change_announced_during_a_read_is_seen_by_later_requests(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = f"stamps-{secrets.token_hex(4)}"
    cache = ReadCache()
    await cache.facts(redis, project)
    real = redis.mget
    answered, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def mget(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        answer = await real(*args, **kwargs)
        if calls == 1:  # the first read's answer is still on its way back
            answered.set()
            await release.wait()
        return answer

    monkeypatch.setattr(redis, "mget", mget)
    early = asyncio.create_task(cache.facts(redis, project))
    await answered.wait()
    await read_cache.changed(redis, project)  # acknowledged before the next requests ask
    late = [asyncio.create_task(cache.facts(redis, project)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in late)  # they wait for a read of their own
    release.set()
    before, *after = await asyncio.gather(early, *late)
    assert before is not None
    assert after[0] is not None
    assert after[0].stamp != before.stamp
    assert all(facts is after[0] for facts in after)
    assert calls == 2
