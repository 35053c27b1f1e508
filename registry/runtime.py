"""The composition root: opening the backends of one process (pools, Redis, the storage
driver, token keys, the secret box, the job queue, per-process caches) and closing them.

The app's lifespan and the job workers call :func:`open_backends`; it is the one place that
knows which concrete class stands behind each protocol the services use.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from registry.config import Settings
from registry.db.pool import open_pool
from registry.jobs.queue import CeleryJobQueue
from registry.services.audit import PULL_DB_SETTINGS, AuditTrail
from registry.services.audit_forward import AuditPolicy
from registry.services.configuration import ConfigurationCache
from registry.services.context import Backends
from registry.services.identity import IdentityService
from registry.services.secret_storage import open_secret_box
from registry.storage import create_driver
from registry.token.keys import load_key_ring


def connect_redis(url: str, timeout_seconds: float) -> Redis:
    """A Redis client whose commands are bounded by ``timeout_seconds``.

    redis-py's clients made from a URL do not retry: after Redis restarted, every pooled
    connection it had dropped failed its next command, so a process that had been idle during
    the outage answered 503s for a while after Redis was back. One immediate retry on a new
    connection hides that, and costs nothing when Redis is down (the connect is refused at
    once). Timeouts are not retried, so a frozen Redis is waited for only once.
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        # No CLIENT SETINFO on each new connection: two round trips, and redis-py looks its
        # own version up in the installed metadata every time.
        driver_info=None,
    )


@contextlib.asynccontextmanager
async def open_backends(
    settings: Settings, pool_size: int | None = None, *, for_jobs: bool = False
) -> AsyncIterator[Backends]:
    """``for_jobs``: statements may run as long as a job needs (GC, retention), not just as
    long as a request may wait."""
    if settings.database_url is None or settings.redis_url is None:
        raise ValueError("database_url and redis_url must be set (berth serve sets them)")
    db = await open_pool(
        settings.database_url.get_secret_value(),
        pool_size or settings.database_pool_size,
        connect_timeout=settings.database_timeout_seconds,
        command_timeout=(
            settings.job_command_timeout_seconds
            if for_jobs
            else settings.database_command_timeout_seconds
        ),
    )
    # Pull records only (see AuditTrail); connected when the first pull is recorded.
    pull_db = await open_pool(
        settings.database_url.get_secret_value(),
        1,
        min_size=0,
        connect_timeout=settings.database_timeout_seconds,
        command_timeout=settings.database_command_timeout_seconds,
        server_settings=PULL_DB_SETTINGS,
    )
    redis = connect_redis(settings.redis_url.get_secret_value(), settings.redis_timeout_seconds)
    try:
        await redis.ping()
        secrets = await open_secret_box(settings, db)
        config = ConfigurationCache(db, secrets)
        backends = Backends(
            settings=settings,
            db=db,
            storage=create_driver(settings.storage, settings.data_dir),
            redis=redis,
            keys=await load_key_ring(db, settings.token.private_key_path),
            config=config,
            identity=IdentityService(
                db,
                redis,
                config,
                failure_limit=settings.login_failure_limit,
                failure_window_seconds=settings.login_failure_window_seconds,
            ),
            audit=AuditTrail(db, pull_db=pull_db),
            jobs=CeleryJobQueue(settings),
            secrets=secrets,
        )
        backends.audit.gate = AuditPolicy(config)
        backends.audit.start()
        try:
            yield backends
        finally:
            await backends.audit.stop()
            backends.jobs.close()
    finally:
        await redis.aclose()
        await pull_db.close()
        await db.close()
