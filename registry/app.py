"""The ASGI application: ``create_app(settings)`` is the one constructor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from registry.api.distribution.routes import routes as distribution_routes
from registry.api.portal_auth import CSRFTokenMiddleware
from registry.api.portal_auth import routes as portal_auth_routes
from registry.api.token import routes as token_routes
from registry.api.v2_0.routes import routes as management_routes
from registry.config import Settings, load_settings
from registry.db.pool import open_pool
from registry.services.audit import AuditTrail
from registry.services.configuration import ConfigurationCache
from registry.services.context import Backends
from registry.services.identity import IdentityService
from registry.services.upload import purge_expired_uploads
from registry.storage import create_driver
from registry.token.keys import load_key_ring

log = logging.getLogger(__name__)

_PURGE_INTERVAL_SECONDS = 600


async def _purge_uploads_forever(backends: Backends) -> None:
    while True:
        await asyncio.sleep(_PURGE_INTERVAL_SECONDS)
        try:
            await purge_expired_uploads(backends)
        except Exception:
            log.exception("purging expired uploads failed")


def create_app(settings: Settings) -> Starlette:
    if settings.database_url is None or settings.redis_url is None:
        raise ValueError("database_url and redis_url must be set (berth serve sets them)")
    database_url = settings.database_url.get_secret_value()
    redis_url = settings.redis_url.get_secret_value()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        db = await open_pool(database_url, settings.database_pool_size)
        redis = Redis.from_url(redis_url)
        try:
            await redis.ping()
            config = ConfigurationCache(db)
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
            )
            backends.audit.start()
            app.state.backends = backends  # for embedding and tests; requests use request.state
            purger = asyncio.create_task(_purge_uploads_forever(backends))
            try:
                yield {"backends": backends}
            finally:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
                await backends.audit.stop()
        finally:
            await redis.aclose()
            await db.close()

    all_routes: list[BaseRoute] = [
        *token_routes,
        *distribution_routes,
        *management_routes,
        *portal_auth_routes,
    ]
    return Starlette(
        routes=all_routes, lifespan=lifespan, middleware=[Middleware(CSRFTokenMiddleware)]
    )


def app_from_environment() -> Starlette:
    """Factory for uvicorn workers: settings come from the environment ``berth serve`` set."""
    return create_app(load_settings())
