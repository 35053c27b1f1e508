"""The portal's login and logout (``/c/login``, ``/c/logout`` or Harbor's ``/c/log_out``), as
Harbor's portal calls them.

``POST /c/login`` takes the form ``principal=<user>&password=<password>`` and answers 200 with a
``sid`` cookie (HttpOnly, SameSite=Lax, Path=/, Secure over https) and the session's CSRF token
in ``X-Harbor-CSRF-Token``. The /api/v2.0 routes then accept the cookie (see
``registry.api.v2_0.security.principal_of``); unsafe methods must echo the token.

``CSRFTokenMiddleware`` puts the token on every response to a request that carries a live
session cookie (and no ``Authorization``), which is how the portal keeps it current. Install it
around the whole app: ``Starlette(..., middleware=[Middleware(CSRFTokenMiddleware)])``.
"""

from __future__ import annotations

from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry.api.v2_0.errors import (
    BadRequest,
    HarborError,
    PayloadTooLarge,
    login_refused,
    render,
)
from registry.auth import session
from registry.browser_session import (
    FormUnreadable,
    clear_session_cookie,
    read_urlencoded,
    set_session_cookie,
)
from registry.services.context import Backends
from registry.services.login import LoginRefused, log_in

_MAX_FORM_BYTES = 16 * 1024
# Set in the request's state once the session cookie has been looked at: the session's CSRF
# token, or None when the cookie named no live session.
_STATE_KEY = "session_csrf_token"


def note_session(request: Request, csrf_token: str | None) -> None:
    """Record what the request's session cookie resolved to, for ``CSRFTokenMiddleware``."""
    setattr(request.state, _STATE_KEY, csrf_token)


def _backends(request: Request) -> Backends:
    b: Backends = request.state.backends
    return b


async def _read_form(request: Request) -> dict[str, str]:
    try:
        parsed = await read_urlencoded(request, max_bytes=_MAX_FORM_BYTES, max_fields=32)
    except FormUnreadable as exc:
        if exc.too_large:
            raise PayloadTooLarge(exc.message) from None
        raise BadRequest(exc.message) from None
    return {name: values[-1] for name, values in parsed.items()}


async def login(request: Request) -> Response:
    b = _backends(request)
    try:
        form = await _read_form(request)
        try:
            principal = await log_in(b, form.get("principal", ""), form.get("password", ""))
        except LoginRefused as refused:
            raise login_refused(refused) from None
    except HarborError as exc:
        # No WWW-Authenticate: the portal's XHR must not make the browser pop up a dialog.
        return render(exc)
    # A fresh id on every login, and the one the browser had is no longer any good.
    await session.destroy(b.redis, request.cookies.get(session.COOKIE))
    session_id, created = await session.create(b.redis, principal)
    note_session(request, created.csrf_token)
    response = Response(
        status_code=200,
        headers={session.CSRF_HEADER: created.csrf_token, "Cache-Control": "no-store"},
    )
    set_session_cookie(request, response, session_id)
    return response


async def logout(request: Request) -> Response:
    await session.destroy(_backends(request).redis, request.cookies.get(session.COOKIE))
    note_session(request, None)
    response = Response(status_code=200, headers={"Cache-Control": "no-store"})
    clear_session_cookie(request, response)
    return response


class CSRFTokenMiddleware:
    """Adds ``X-Harbor-CSRF-Token`` to responses to requests with a live session cookie.

    Uses what ``principal_of`` found (via ``note_session``) when the handler asked who is
    calling; otherwise reads the token from Redis (no account lookup, the idle clock is not
    restarted). Leaves alone responses that already carry the header (``/c/login``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session_id = connection.cookies.get(session.COOKIE)
        if not session_id or "authorization" in connection.headers:
            await self.app(scope, receive, send)
            return
        state: dict[str, object] = scope.setdefault("state", {})

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.CSRF_HEADER not in headers:
                    token = await self._token(state, session_id)
                    if token is not None:
                        headers[session.CSRF_HEADER] = token
            await send(message)

        await self.app(scope, receive, send_with_token)

    @staticmethod
    async def _token(state: dict[str, object], session_id: str) -> str | None:
        if _STATE_KEY in state:
            noted = state[_STATE_KEY]
            return noted if isinstance(noted, str) else None
        backends = state.get("backends")
        if not isinstance(backends, Backends):
            return None
        try:
            return await session.csrf_token(backends.redis, session_id)
        except RedisError:
            return None  # the response is on its way; it just goes without the token


routes = [
    Route("/c/login", login, methods=["POST"]),
    Route("/c/logout", logout, methods=["GET"]),
    # Harbor's portal says log_out.
    Route("/c/log_out", logout, methods=["GET"]),
]
