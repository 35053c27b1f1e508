"""The last line for a dependency that is down: routes without their own error wrapper (the
token service, portal sessions) still answer 503 in their protocol's body, never a bare 500."""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.services.availability import as_unavailable

log = logging.getLogger(__name__)


class UnavailableMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is None or started:
                raise
            path = scope.get("path", "")
            log.warning("%s %s: %s (%r)", scope.get("method"), path, unavailable, exc)
            # /v2/ and the token service speak Distribution's codes, /api/ Harbor's; both
            # bodies have the same {"errors":[…]} shape.
            code = "UNAVAILABLE" if path.startswith(("/v2", "/service")) else "SERVICE_UNAVAILABLE"
            body = json.dumps({"errors": [{"code": code, "message": unavailable.message}]})
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", b"5"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
