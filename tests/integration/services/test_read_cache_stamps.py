"""The read cache's stamp reads on a real Redis: requests asking at once share reads, and a
request never takes a read that began before it asked (it would miss a change announced in
between). Reads are counted by Redis itself (INFO commandstats); a read's answer is held up
on its way back by a TCP relay between the cache's client and Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from registry.services import read_cache
from registry.services.read_cache import ReadCache
from tests.integration.relay import Relay


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def relayed(redis_url: str) -> AsyncIterator[tuple[Redis, Relay]]:
    parts = urlsplit(redis_url)
    assert parts.hostname is not None
    assert parts.port is not None
    relay = Relay((parts.hostname, parts.port))
    server = await asyncio.start_server(relay._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    client = Redis.from_url(urlunsplit(parts._replace(netloc=netloc)))
    try:
        yield client, relay
    finally:
        await client.aclose()
        server.close()
        await relay.close()
        await server.wait_closed()


async def _mget_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_requests_asking_at_once_share_two_reads(redis: Redis) -> None:
    project = f"stamps-{secrets.token_hex(4)}"
    cache = ReadCache()
    await cache.facts(redis, project)  # sets the project's first stamp
    before = await _mget_calls(redis)
    found = await asyncio.gather(*(cache.facts(redis, project) for _ in range(50)))
    # The first asks alone; the 49 that asked while its read was out share the next one.
    assert await _mget_calls(redis) - before == 2
    assert all(facts is found[0] for facts in found)


async def test_a_change_announced_during_a_read_is_seen_by_later_requests(
    redis: Redis, relayed: tuple[Redis, Relay]
) -> None:
    through_relay, relay = relayed
    project = f"stamps-{secrets.token_hex(4)}"
    cache = ReadCache()
    await cache.facts(through_relay, project)
    reads_before = await _mget_calls(redis)
    relay.answers.clear()
    early = asyncio.create_task(cache.facts(through_relay, project))
    await relay.held.wait()  # Redis answered the first read; the answer is on its way
    await read_cache.changed(redis, project)  # acknowledged before the next requests ask
    late = [asyncio.create_task(cache.facts(through_relay, project)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in late)
    relay.answers.set()
    before, *after = await asyncio.gather(early, *late)
    assert before is not None
    assert after[0] is not None
    assert after[0].stamp != before.stamp
    assert all(facts is after[0] for facts in after)
    assert await _mget_calls(redis) - reads_before == 2
