"""Reading a posted form, and the CSRF check every form goes through.

Signed-in forms carry the session's CSRF token in the hidden field ``csrf_token`` (or, from
scripts, in ``X-Harbor-CSRF-Token``, as the API takes it). The login form, which has no session
yet, carries a double-submit token: a random value in a cookie and the same in the form.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from registry.auth import session
from registry.browser_session import FormUnreadable, read_urlencoded
from registry.portal.errors import PageError, PageForbidden, PageNotFound
from registry.portal.security import csrf_token, signed_in

_MAX_FORM_BYTES = 64 * 1024
LOGIN_COOKIE = "berth_login_csrf"


class Form:
    """The fields of a posted form (the last value of a repeated field, or all of them)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[-1].strip() if values else default

    def flag(self, name: str) -> bool:
        return self.get(name).lower() in ("on", "true", "1", "yes")

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))


async def read_form(request: Request) -> Form:
    try:
        parsed = await read_urlencoded(request, max_bytes=_MAX_FORM_BYTES, max_fields=200)
    except FormUnreadable as exc:
        raise PageError(f"The form could not be read: {exc.message}.") from None
    if any("\x00" in v for values in parsed.values() for v in values):
        raise PageError("The form contains a NUL character.")
    return Form(parsed)


def whole_number(text: str) -> int | None:
    """``text`` as a non-negative whole number of at most 18 ASCII digits, else None (a
    digit of another script is no number here)."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def path_id(request: Request, name: str) -> int:
    """The id in the path, or a 404 page."""
    found = whole_number(str(request.path_params[name]))
    if found is None:
        raise PageNotFound("Not found.")
    return found


def tokens_match(sent: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def signed_form(request: Request) -> Form:
    """The form of a signed-in viewer, once its CSRF token checks out."""
    await signed_in(request)
    form = await read_form(request)
    sent = form.get("csrf_token") or request.headers.get(session.CSRF_HEADER, "")
    if not tokens_match(sent, csrf_token(request)):
        raise PageForbidden("The form has expired or did not come from this site. Reload it.")
    return form


def login_token(request: Request) -> str:
    """The login form's token: the browser's cookie value, or a new one."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    return current if 20 <= len(current) <= 100 else secrets.token_urlsafe(32)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def check_login_token(request: Request, form: Form) -> bool:
    return tokens_match(form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE, ""))
