"""Opening the asyncpg pool."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    Pool = asyncpg.Pool[asyncpg.Record]
    PooledConnection = PoolConnectionProxy[asyncpg.Record]
    Connection = asyncpg.Connection[asyncpg.Record] | PooledConnection
else:  # asyncpg's classes are generic only in its type stubs
    Pool = asyncpg.Pool
    PooledConnection = PoolConnectionProxy
    Connection = asyncpg.Connection | PoolConnectionProxy

# Anything a query can run on: the pool itself or a connection taken from it.
Executor = Connection | Pool


async def _init_connection(conn: Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: Connection) -> None:
    """What a connection needs before going back to the pool: nothing beyond what asyncpg
    always does (roll back an open transaction, drop listeners).

    asyncpg's default reset sends ``RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()``
    on every release, one more round trip for every single-statement query. Berth never leaves
    session state on a pooled connection: its advisory locks are transaction-scoped
    (``pg_advisory_xact_lock``), settings are ``SET LOCAL``, cursors live in transactions and
    nothing LISTENs. Code that needs session state takes its own connection (migrations do).
    """


async def open_pool(
    dsn: str,
    size: int = 10,
    *,
    min_size: int = 1,
    connect_timeout: float = 5.0,
    command_timeout: float | None = 15.0,
    **kwargs: Any,
) -> Pool:
    """A pool whose connects and statements are bounded: a frozen or unreachable server
    surfaces as ``TimeoutError`` (a 503 for clients) instead of a request that hangs."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(min_size, size),
        max_size=size,
        init=_init_connection,
        timeout=connect_timeout,
        command_timeout=command_timeout,
        # Statements are few and fixed: caching their plans is the point of the pool.
        statement_cache_size=256,
        reset=_keep_session,
        **kwargs,
    )
    assert pool is not None
    return pool
