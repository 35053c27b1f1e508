"""The portal's OpenID Connect sign-in: ``/c/oidc/login`` sends the browser to the provider,
``/c/oidc/callback`` takes it back and opens a session, as ``/c/login`` does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from registry.api.portal_auth import note_session
from registry.api.v2_0.endpoint import harbor_endpoint
from registry.auth import session
from registry.browser_session import set_session_cookie
from registry.services import oidc
from registry.services.context import Backends

# Binds a login to the browser that started it (SameSite=Lax still comes with the
# provider's redirect back, a top-level GET).
STATE_COOKIE = "berth_oidc"
_COOKIE_PATH = "/c/oidc"


def _backends(request: Request) -> Backends:
    b: Backends = request.state.backends
    return b


def _callback_url(request: Request) -> str:
    external = _backends(request).settings.external_url
    base = external.rstrip("/") if external else f"{request.url.scheme}://{request.url.netloc}"
    return f"{base}/c/oidc/callback"


@harbor_endpoint
async def login(request: Request) -> Response:
    redirect = request.query_params.get("redirect_url", "/")
    started = await oidc.start_login(_backends(request), _callback_url(request), redirect)
    response = RedirectResponse(started.authorize_url, status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        started.browser_token,
        max_age=oidc.STATE_TTL_SECONDS,
        path=_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@harbor_endpoint
async def callback(request: Request) -> Response:
    b = _backends(request)
    params = request.query_params
    done = await oidc.finish_login(
        b,
        _callback_url(request),
        params.get("code", ""),
        params.get("state", ""),
        request.cookies.get(STATE_COOKIE, ""),
    )
    # A fresh session, as a password login gets.
    await session.destroy(b.redis, request.cookies.get(session.COOKIE))
    session_id, created = await session.create(b.redis, done.principal)
    note_session(request, created.csrf_token)
    response = RedirectResponse(done.redirect_to, status_code=302)
    set_session_cookie(request, response, session_id)
    response.delete_cookie(STATE_COOKIE, path=_COOKIE_PATH)
    return response


routes = [
    Route("/c/oidc/login", login, methods=["GET"]),
    Route("/c/oidc/callback", callback, methods=["GET"]),
]
