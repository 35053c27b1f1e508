"""The composition root: opening the backends of one process (pools, Redis, the storage
driver, token keys, the secret box, the job queue, per-process caches) and closing them.

The app's lifespan and the job workers call :func:`open_backends`; it is the one place that
knows which concrete class stands behind each protocol the services use.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from registry.config import Settings
from registry.db.pool import open_pool
from registry.jobs.queue import CeleryJobQueue
from registry.services.audit import AuditTrail
from registry.services.audit_forward import AuditPolicy
from registry.services.configuration import ConfigurationCache
from registry.services.context import Backends
from registry.services.identity import IdentityService
from registry.services.secret_storage import open_secret_box
from registry.storage import create_driver
from registry.token.keys import load_key_ring


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
    redis = Redis.from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
        # No CLIENT SETINFO on each new connection: two round trips, and redis-py looks its
        # own version up in the installed metadata every time.
        driver_info=None,
    )
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
            audit=AuditTrail(db),
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
        await db.close()
