"""The configuration as two HTTP processes hold it, on a real PostgreSQL: what one saves, the
other shows back at once when asked fresh (the API and the portal ask so), and takes up in
its own use within the cache's time to live."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from registry.db import configurations
from registry.db.migrate import migrate
from registry.db.pool import Pool, open_pool
from registry.services.configuration import ConfigurationCache
from registry.services.secrets import SecretBox


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[Pool]:
    db = await open_pool(database_url, size=2)
    async with db.acquire() as conn:
        await migrate(conn)
    before = await configurations.load(db)
    try:
        yield db
    finally:
        await configurations.save(db, {"token_expiration": before.get("token_expiration", 30)})
        await db.close()


async def test_a_change_saved_in_one_process_is_shown_fresh_by_another(pool: Pool) -> None:
    box = SecretBox(os.urandom(32))
    here, there = ConfigurationCache(pool, box, ttl_seconds=0.5), ConfigurationCache(pool, box)
    await here.update({"token_expiration": 31})
    assert (await there.get())["token_expiration"] == 31  # now cached there
    await here.update({"token_expiration": 45})
    assert (await there.get(fresh=True))["token_expiration"] == 45
    assert (await here.get())["token_expiration"] == 45
    # A cache that has not been asked fresh follows within its time to live.
    late = ConfigurationCache(pool, box, ttl_seconds=0.2)
    assert (await late.get())["token_expiration"] == 45
    await here.update({"token_expiration": 50})
    await asyncio.sleep(0.3)
    assert (await late.get())["token_expiration"] == 50
