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
