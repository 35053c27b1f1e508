"""Logging in and out of the portal, on the sessions ``/c/login`` uses."""

from __future__ import annotations

from urllib.parse import urlencode

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
from registry.services.login import THROTTLED, UNAVAILABLE, WRONG_CREDENTIALS, LoginRefused, log_in

HOME = "/projects"
# One message for every wrong credential: which part was wrong is not for the caller to learn.
BAD_CREDENTIALS = "Invalid user name or password."
# What the page says for each kind of refused login.
_REFUSALS = {
    WRONG_CREDENTIALS: BAD_CREDENTIALS,
    THROTTLED: "Too many failed logins for this account. Wait a few minutes and try again.",
    UNAVAILABLE: "The directory cannot be reached right now. Try again soon.",
}


def _next(target: str) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


async def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, username: str = ""
) -> Response:
    token = login_token(request)
    config = await backends(request).config.get()
    next_page = _next(request.query_params.get("next", HOME))
    # With OIDC on, people sign in at their provider; the form stays for local accounts
    # (the admin) as in Harbor.
    oidc = None
    if config["auth_mode"] == "oidc_auth":
        oidc = {
            "name": config["oidc_name"] or "your identity provider",
            "url": "/c/oidc/login?" + urlencode({"redirect_url": next_page}),
        }
    response = render(
        request,
        "login.html",
        {
            "login_token": token,
            "next": next_page,
            "oidc": oidc,
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
    return await _login_page(request)


@page
async def login(request: Request) -> Response:
    form = await read_form(request)
    username = form.get("username")
    if not check_login_token(request, form):
        return await _login_page(
            request,
            error="The login form expired. Please try again.",
            status=403,
            username=username,
        )
    b = backends(request)
    try:
        principal = await log_in(b, username, form.get("password"))
    except LoginRefused as refused:
        error, status = _REFUSALS[refused.status], refused.status
        return await _login_page(request, error=error, status=status, username=username)
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
