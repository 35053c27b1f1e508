"""Leases on a real Redis: a page of garbage collection's locks and an upload's lease on the
same digest exclude each other."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from registry.services import lease


async def test_a_batch_takes_only_what_nobody_holds_and_gives_back_only_its_own(
    redis_url: str,
) -> None:
    redis = Redis.from_url(redis_url)
    keys = [f"berth:test-lease:{name}" for name in ("pushed", "idle-1", "idle-2")]
    try:
        await redis.delete(*keys)
        pushing = await lease.acquire(redis, keys[0])
        batch = await lease.take_free(redis, keys, seconds=30)
        assert batch.taken == frozenset(keys[1:])
        assert 25 < batch.time_left() <= 30
        # While the batch holds them, an upload cannot lease those digests.
        try:
            await lease.acquire(redis, keys[1])
        except lease.LeaseBusy:
            pass
        else:
            raise AssertionError("an upload leased a digest a batch holds")
        await batch.release()
        assert await redis.exists(*keys[1:]) == 0
        # The upload's lease was not the batch's to give back.
        assert await redis.exists(keys[0]) == 1
        pushing.check()
        await pushing.release()
        again = await lease.acquire(redis, keys[1])
        await again.release()
    finally:
        await redis.delete(*keys)
        await redis.aclose()


async def test_a_batch_lets_go_by_itself_when_its_holder_dies(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    key = "berth:test-lease:abandoned"
    try:
        await redis.delete(key)
        batch = await lease.take_free(redis, [key], seconds=0.3)
        assert batch.taken == {key}
        await asyncio.sleep(0.5)  # never released: a killed collector
        taken = await lease.acquire(redis, key)
        await taken.release()
    finally:
        await redis.delete(key)
        await redis.aclose()
