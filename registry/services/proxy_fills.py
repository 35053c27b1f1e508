"""Blobs of proxy-cache projects being written into the store from a client's stream.

A cold pull through a proxy project streams each blob from upstream to the client; the same
stream is written into the store as it passes (a tee), so the blob is fetched from upstream
once. The background copy that caches the whole artifact claims its writes here too, and each
side waits for the other's write of a blob instead of fetching it a second time.

A claim is taken in this process first (synchronously, so two requests here cannot both take
it), then in Redis, where every HTTP process and replica sees it: the one that finds it taken
elsewhere gives its claim up and waits. The Redis claim is renewed while its write runs and
expires soon after a process holding it dies; without Redis, claims hold in this process only
(another process may then fetch the blob too: content-addressed, either write wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CLAIM_SECONDS = 15.0
_POLL_SECONDS = 0.05
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _key(repository: str, digest: str) -> str:
    return f"berth:proxy-fill:{repository}@{digest}"


class Fill:
    """One claimed write of a blob, ended once by whoever holds it (ending it again is a
    no-op)."""

    def __init__(self, fills: BlobFills, key: tuple[str, str]) -> None:
        self._fills = fills
        self._key = key
        self.ended = asyncio.Event()
        self._token = secrets.token_hex(8)
        self._redis: Redis | None = None
        self._renewal: asyncio.Task[None] | None = None

    def end(self) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        self._fills.forget(self._key, self)
        if self._redis is not None:
            self._fills.keep(self._release(self._redis))

    async def claim_everywhere(self, redis: Redis) -> bool:
        """Take the claim across processes too; False (and this claim ended) when another
        process holds it."""
        try:
            taken = await redis.set(
                _key(*self._key), self._token, nx=True, px=int(CLAIM_SECONDS * 1000)
            )
        except RedisError as exc:
            log.warning("proxy-cache claim on %s held in this process only: %s", self._key, exc)
            return True
        if not taken:
            self.end()
            return False
        if self.ended.is_set():  # ended while the claim was being taken
            await self._release(redis)
            return True
        self._redis = redis
        self._renewal = self._fills.keep(self._renew(redis))
        return True

    async def _renew(self, redis: Redis) -> None:
        while not self.ended.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), CLAIM_SECONDS / 3)
            if not self.ended.is_set():
                with contextlib.suppress(RedisError):
                    await redis.pexpire(_key(*self._key), int(CLAIM_SECONDS * 1000))

    async def _release(self, redis: Redis) -> None:
        with contextlib.suppress(RedisError):
            await redis.eval(_RELEASE, 1, _key(*self._key), self._token)


class BlobFills:
    def __init__(self) -> None:
        self._filling: dict[tuple[str, str], Fill] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def begin(self, repository: str, digest: str) -> Fill | None:
        """Claim the write of the blob in this process; None when another write of it runs
        here. Follow with ``Fill.claim_everywhere``."""
        key = (repository, digest)
        if key in self._filling:
            return None
        fill = self._filling[key] = Fill(self, key)
        return fill

    async def filling(self, redis: Redis, repository: str, digest: str) -> bool:
        """Whether a write of the blob runs, here or in another process."""
        if (repository, digest) in self._filling:
            return True
        try:
            return bool(await redis.exists(_key(repository, digest)))
        except RedisError:
            return False

    async def wait(self, redis: Redis, repository: str, digest: str) -> None:
        """Until the blob's write, if one runs, ends (bound it with ``asyncio.timeout``)."""
        while True:
            fill = self._filling.get((repository, digest))
            if fill is not None:
                await fill.ended.wait()
            elif not await self.filling(redis, repository, digest):
                return
            else:
                await asyncio.sleep(_POLL_SECONDS)

    def forget(self, key: tuple[str, str], fill: Fill) -> None:
        if self._filling.get(key) is fill:
            del self._filling[key]

    def keep(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a claim's Redis upkeep beside the request, holding on to its task."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
