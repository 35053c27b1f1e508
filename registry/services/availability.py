"""Telling a dependency that is down or frozen apart from a bug.

PostgreSQL, Redis, the broker and S3 fail with their own exceptions (refused or reset
connections, timeouts, a server shutting down). Both APIs answer those with 503 and their
protocol's error body instead of a 500, and without a traceback per request: the cause is
the dependency, and the client should retry.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions

from registry.services.errors import ServiceUnavailable

try:
    import botocore.exceptions

    _STORAGE_ERRORS: tuple[type[BaseException], ...] = (
        botocore.exceptions.ConnectionError,
        botocore.exceptions.ReadTimeoutError,
    )
except ImportError:  # pragma: no cover — boto3 is a dependency; this keeps the import soft
    _STORAGE_ERRORS = ()

_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.QueryCanceledError,
    # What asyncpg raises for a pooled connection whose server died in the middle of a
    # protocol exchange ("cannot switch to state …"); seen only with a lost server.
    asyncpg.exceptions.InternalClientError,
)
_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def as_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 that ``exc`` (or what caused it) stands for, or None when it is a real error."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ServiceUnavailable):
            return seen
        if isinstance(seen, _DATABASE_ERRORS):
            return ServiceUnavailable("the database is unavailable; try again shortly")
        if isinstance(seen, _REDIS_ERRORS):
            return ServiceUnavailable("the cache (Redis) is unavailable; try again shortly")
        if isinstance(seen, _STORAGE_ERRORS):
            return ServiceUnavailable("the blob store is unavailable; try again shortly")
        if isinstance(seen, TimeoutError | ConnectionError):
            # asyncpg's command timeout and a connection refused or reset on the way.
            return ServiceUnavailable("a backing service did not answer in time; try again")
        seen = seen.__cause__ or seen.__context__
    return None
