"""The ASGI application: ``create_app(settings)`` is the one constructor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from registry.api.chartrepo.routes import routes as chartrepo_routes
from registry.api.distribution.routes import routes as distribution_routes
from registry.api.distribution.routes import unmatched as distribution_unmatched
from registry.api.host import HostGuardMiddleware
from registry.api.metrics import MetricsPortGuard
from registry.api.metrics import routes as metrics_routes
from registry.api.notifications import routes as notification_routes
from registry.api.oidc_login import routes as oidc_login_routes
from registry.api.portal_auth import CSRFTokenMiddleware
from registry.api.portal_auth import routes as portal_auth_routes
from registry.api.read_only import ReadOnlyMiddleware
from registry.api.token import routes as token_routes
from registry.api.unavailable import UnavailableMiddleware
from registry.api.v2_0.routes import no_such_endpoint
from registry.api.v2_0.routes import routes as management_routes
from registry.config import Settings
from registry.metrics.middleware import RequestMetricsMiddleware
from registry.portal.routes import routes as portal_routes
from registry.runtime import open_backends
from registry.services import notify
from registry.services.context import Backends
from registry.services.upload import purge_expired_uploads

log = logging.getLogger(__name__)

_PURGE_INTERVAL_SECONDS = 600


async def _purge_uploads_forever(backends: Backends) -> None:
    while True:
        await asyncio.sleep(_PURGE_INTERVAL_SECONDS)
        try:
            await purge_expired_uploads(backends)
        except Exception:
            log.exception("purging expired uploads failed")


async def _not_found(request: Request, exc: Exception) -> Response:
    """A path not even the catch-all routes take (their patterns stop at a newline in the
    path): answered in the format of the API it was meant for."""
    path = request.url.path
    if path == "/v2" or path.startswith("/v2/"):
        return await distribution_unmatched(request)
    if path.startswith("/api/v2.0/"):
        return await no_such_endpoint(request)
    return PlainTextResponse("Not Found", status_code=404)


def create_app(settings: Settings) -> Starlette:
    if settings.database_url is None or settings.redis_url is None:
        raise ValueError("database_url and redis_url must be set (berth serve sets them)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_backends(settings) as backends:
            app.state.backends = backends  # for embedding and tests; requests use request.state
            purger = asyncio.create_task(_purge_uploads_forever(backends))
            try:
                yield {"backends": backends}
            finally:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
                # Webhook notifications already started get their jobs recorded.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await notify.wait_pending(backends)

    all_routes: list[BaseRoute] = [
        *token_routes,
        *distribution_routes,
        *management_routes,
        *portal_auth_routes,
        *chartrepo_routes,
        *notification_routes(settings.notifications_path),
        *oidc_login_routes,
        *metrics_routes,
        *portal_routes,
    ]
    app = Starlette(
        routes=all_routes,
        lifespan=lifespan,
        middleware=[
            Middleware(UnavailableMiddleware),
            Middleware(HostGuardMiddleware, settings=settings),
            Middleware(CSRFTokenMiddleware),
            Middleware(ReadOnlyMiddleware),
            # Innermost: the router notes the matched route in the scope this one sees (the
            # host guard passes a copy of the scope on).
            Middleware(RequestMetricsMiddleware),
        ],
        exception_handlers={404: _not_found},
    )
    if settings.metrics.port is not None:
        app.add_middleware(MetricsPortGuard, port=settings.metrics.port)
    return app
