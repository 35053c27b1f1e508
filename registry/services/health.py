"""What ``/health`` reports: each part Berth needs, checked at once with a time bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from registry.services.context import Backends

CHECK_TIMEOUT_SECONDS = 2.0
# Every live job worker keeps a key under this prefix, renewed well within its TTL.
WORKER_KEY_PREFIX = "berth:jobservice:worker:"
WORKER_TTL_SECONDS = 30


# Probes given up on: cancelled, and left to finish in the background. Cancelling a statement
# on a frozen PostgreSQL waits for the server, and the answer must not wait with it.
_abandoned: set[asyncio.Future[object]] = set()


def _forget(task: asyncio.Future[object]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a late failure of an abandoned probe is not news


async def _check(name: str, probe: Awaitable[object]) -> dict[str, Any]:
    task = asyncio.ensure_future(probe)
    done, _ = await asyncio.wait({task}, timeout=CHECK_TIMEOUT_SECONDS)
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_forget)
        return {
            "name": name,
            "status": "unhealthy",
            "error": f"no answer within {CHECK_TIMEOUT_SECONDS:.0f}s",
        }
    exc = task.exception()
    if exc is not None:
        return {"name": name, "status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"}
    return {"name": name, "status": "healthy"}


async def _some_worker_alive(b: Backends) -> None:
    async for _key in b.redis.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=100):
        return
    raise RuntimeError(f"no job worker has reported in the last {WORKER_TTL_SECONDS}s")


async def _nothing() -> None:
    return None


async def system_health(b: Backends) -> dict[str, Any]:
    components = await asyncio.gather(
        _check("core", _nothing()),
        _check("database", b.db.fetchval("SELECT 1")),
        _check("redis", b.redis.ping()),
        _check("jobservice", _some_worker_alive(b)),
        _check("registry", b.storage.list("/")),
    )
    healthy = all(c["status"] == "healthy" for c in components)
    return {"status": "healthy" if healthy else "unhealthy", "components": list(components)}
