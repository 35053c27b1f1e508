"""Logging in and out of the portal, on the sessions ``/c/login`` uses."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.auth import session
from registry.browser_session import clear_session_cookie, set_session_cookie
from registry.portal.endpoint import page, see_other
from registry.portal.forms import (
    check_login_token,
    login_token,
    read_form,
    set_login_cookie,
    tokens_match,
)
from registry.portal.security import backends, csrf_token, viewer
from registry.portal.templating import render
from registry.services.errors import BackendUnavailable, LoginThrottled

HOME = "/projects"
# One message for every wrong credential: which part was wrong is not for the caller to learn.
BAD_CREDENTIALS = "Invalid user name or password."


def _next(target: str) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, username: str = ""
) -> Response:
    token = login_token(request)
    response = render(
        request,
        "login.html",
        {
            "login_token": token,
            "next": _next(request.query_params.get("next", HOME)),
            "username": username,
            "error": error,
        },
        status=status,
        title="Log in",
    )
    set_login_cookie(request, response, token)
    return response


@page
async def login_form(request: Request) -> Response:
    if not (await viewer(request)).anonymous:
        return see_other(_next(request.query_params.get("next", HOME)))
    return _login_page(request)


@page
async def login(request: Request) -> Response:
    form = await read_form(request)
    username = form.get("username")
    if not check_login_token(request, form):
        return _login_page(
            request,
            error="The login form expired. Please try again.",
            status=403,
            username=username,
        )
    b = backends(request)
    try:
        principal = await b.identity.login(username, form.get("password"))
    except LoginThrottled:
        return _login_page(
            request,
            error="Too many failed logins for this account. Wait a few minutes and try again.",
            status=429,
            username=username,
        )
    except BackendUnavailable:
        return _login_page(
            request,
            error="The directory cannot be reached right now. Try again soon.",
            status=503,
            username=username,
        )
    if principal is None or principal.anonymous:
        return _login_page(request, error=BAD_CREDENTIALS, status=401, username=username)
    # A fresh session id at every login; the one the browser had is no longer any good.
    await session.destroy(b.redis, request.cookies.get(session.COOKIE))
    session_id, _ = await session.create(b.redis, principal)
    response = see_other(_next(form.get("next", HOME)))
    set_session_cookie(request, response, session_id)
    return response


@page
async def logout(request: Request) -> Response:
    form = await read_form(request)
    principal = await viewer(request)
    # A stale page's button still logs out; only a live session needs its token to match.
    if not principal.anonymous and not tokens_match(form.get("csrf_token"), csrf_token(request)):
        return see_other(HOME)
    await session.destroy(backends(request).redis, request.cookies.get(session.COOKIE))
    response = see_other("/")
    clear_session_cookie(request, response)
    return response
