"""Refuses every request that would change something while Berth is in read-only mode, in the
error format of the face it was sent to (403, code ``DENIED``, Harbor's message), as Harbor's
read-only middleware does. Safe methods pass, and so do the few unsafe requests that change
no content: logging in, asking for a token, and changing the configuration (to leave the
mode)."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from registry.services.context import Backends
from registry.services.read_only import MESSAGE, is_read_only

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ALLOWED = (
    ("PUT", re.compile(r"^/api/v2\.0/configurations/?$")),
    ("POST", re.compile(r"^/c/(login|logout|log_out|oidc/.*)$")),
    # The portal's login form and its log-out button.
    ("POST", re.compile(r"^/(logout)?$")),
    ("POST", re.compile(r"^/service/token")),
)


def _allowed(method: str, path: str) -> bool:
    return method in _SAFE_METHODS or any(
        method == m and pattern.match(path) for m, pattern in _ALLOWED
    )


def _body(path: str) -> bytes:
    if path.startswith(("/chartrepo/", "/api/chartrepo/")):
        return json.dumps({"error": MESSAGE}).encode()
    return json.dumps({"errors": [{"code": "DENIED", "message": MESSAGE}]}).encode()


class ReadOnlyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _allowed(scope["method"], scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        backends: Backends | None = scope.get("state", {}).get("backends")
        if backends is None or not await is_read_only(backends):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": _body(scope.get("path", ""))})
