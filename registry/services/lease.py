"""Leases: Redis locks that live only as long as their holder.

A lease has a short TTL and is renewed in the background while its holder works, so a request
that streams a multi-GiB body keeps it for as long as it needs, and a process that dies
(kill -9, a lost node) lets go within seconds instead of blocking the resource for an hour.
A holder that loses its lease (Redis restarted, the event loop stalled past the TTL) learns of
it through :meth:`Lease.check` and must stop touching the resource: someone else may own it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from types import TracebackType

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

# How long a lease outlives a holder that stopped renewing it.
LEASE_SECONDS = 8.0
# Renewed this often, so a few missed beats still leave it held.
_RENEW_EVERY = LEASE_SECONDS / 4


class LeaseBusy(Exception):
    """Someone else holds the lease."""


class LeaseLost(Exception):
    """The lease expired or was taken over while its holder still worked."""


class Lease:
    """A held lease; ``async with`` releases it at the end of the block."""

    def __init__(self, lock: Lock) -> None:
        self._lock = lock
        self.lost = False
        self._renewal = asyncio.create_task(self._keep_renewed())

    def check(self) -> None:
        """Raise LeaseLost once the lease is no longer held."""
        if self.lost:
            raise LeaseLost(str(self._lock.name))

    async def _keep_renewed(self) -> None:
        while True:
            await asyncio.sleep(_RENEW_EVERY)
            try:
                await self._lock.reacquire()
            except (LockError, RedisError) as exc:
                log.warning("lease %s lost: %s", self._lock.name, exc)
                self.lost = True
                return

    async def release(self) -> None:
        self._renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._renewal
        with contextlib.suppress(LockError, RedisError):
            await self._lock.release()

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.release()


async def acquire(redis: Redis, key: str, wait_seconds: float | None = None) -> Lease:
    """Take the lease ``key``; LeaseBusy when it is held elsewhere (after waiting up to
    ``wait_seconds``, or at once when None)."""
    lock = redis.lock(
        key,
        timeout=LEASE_SECONDS,
        blocking=wait_seconds is not None,
        blocking_timeout=wait_seconds,
    )
    if not await lock.acquire():
        raise LeaseBusy(key)
    return Lease(lock)


# Deletes each key still holding the caller's token, in one round trip.
_RELEASE_MANY = """
local released = 0
for _, key in ipairs(KEYS) do
    if redis.call('get', key) == ARGV[1] then
        released = released + redis.call('del', key)
    end
end
return released
"""


# Sets each key nobody holds to the caller's token with an expiry, in one round trip (a
# pipeline of as many SETs costs the client far more to pack and parse); the keys taken.
_TAKE_FREE = """
local taken = {}
for _, key in ipairs(KEYS) do
    if redis.call('set', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
        taken[#taken + 1] = key
    end
end
return taken
"""


class Batch:
    """Leases on many keys taken at once, for a bounded time and without renewal: for work
    over a page of resources that finishes well within ``seconds`` (garbage collection).
    Keys someone else holds are simply not taken."""

    def __init__(self, redis: Redis, token: str, taken: list[str], seconds: float) -> None:
        self._redis = redis
        self._token = token
        self.taken = frozenset(taken)
        self._deadline = asyncio.get_running_loop().time() + seconds

    def time_left(self) -> float:
        return self._deadline - asyncio.get_running_loop().time()

    async def release(self) -> None:
        if self.taken:
            with contextlib.suppress(RedisError):
                await self._redis.eval(_RELEASE_MANY, len(self.taken), *self.taken, self._token)


async def take_free(redis: Redis, keys: list[str], seconds: float) -> Batch:
    """Take every key of ``keys`` that nobody holds, in one round trip. The keys are the ones
    :func:`acquire` takes, so a holder of either kind excludes the other."""
    token = secrets.token_hex(16)
    if not keys:
        return Batch(redis, token, [], seconds)
    taken = await redis.eval(_TAKE_FREE, len(keys), *keys, token, int(seconds * 1000))
    return Batch(redis, token, [k.decode() if isinstance(k, bytes) else k for k in taken], seconds)
