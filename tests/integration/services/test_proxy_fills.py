"""Claims on proxy-cache blob writes on a real Redis, two BlobFills standing for two HTTP
processes: a write claimed in one is waited for in the other, and a claim whose process died
stops counting once it is no longer renewed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from registry.services import proxy_fills
from registry.services.proxy_fills import BlobFills

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
        yield client
    finally:
        await client.aclose()


async def test_a_write_claimed_in_one_process_is_waited_for_in_another(redis: Redis) -> None:
    here, there = BlobFills(), BlobFills()
    fill = here.begin("mirror/app", DIGEST)
    assert fill is not None
    assert await fill.claim_everywhere(redis)
    assert await there.filling(redis, "mirror/app", DIGEST)
    assert not await there.filling(redis, "mirror/other", DIGEST)
    rival = there.begin("mirror/app", DIGEST)
    assert rival is not None
    assert not await rival.claim_everywhere(redis)
    assert rival.ended.is_set()

    waited = asyncio.create_task(there.wait(redis, "mirror/app", DIGEST))
    await asyncio.sleep(0.2)
    assert not waited.done()
    fill.end()
    await asyncio.wait_for(waited, 5)
    assert not await there.filling(redis, "mirror/app", DIGEST)
    again = there.begin("mirror/app", DIGEST)
    assert again is not None
    assert await again.claim_everywhere(redis)
    again.end()


async def test_a_long_write_keeps_its_claim_and_a_dead_one_lets_go(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy_fills, "CLAIM_SECONDS", 0.6)
    here, there = BlobFills(), BlobFills()
    fill = here.begin("mirror/app", DIGEST)
    assert fill is not None
    assert await fill.claim_everywhere(redis)
    # Renewed while it runs: still held after twice its lifetime.
    await asyncio.sleep(1.2)
    assert await there.filling(redis, "mirror/app", DIGEST)
    # Its process dies: nobody renews or releases the claim.
    for task in list(here._tasks):
        task.cancel()
    began = time.monotonic()
    await asyncio.wait_for(there.wait(redis, "mirror/app", DIGEST), 5)
    assert time.monotonic() - began < 1.0
