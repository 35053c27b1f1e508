"""What both browser-facing faces (the API's ``/c/login`` and the portal) do with HTTP alike:
the session cookie's attributes, and reading a small url-encoded form."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from registry.auth import session

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class FormUnreadable(Exception):
    """Not a url-encoded form, too large, or not UTF-8; the message says which."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


async def read_urlencoded(
    request: Request, *, max_bytes: int, max_fields: int
) -> dict[str, list[str]]:
    """The posted fields, read without holding more than ``max_bytes`` of body."""
    media_type = request.headers.get("content-type", FORM_MEDIA_TYPE).split(";")[0]
    if media_type.strip().lower() != FORM_MEDIA_TYPE:
        raise FormUnreadable(f"the form must be sent as {FORM_MEDIA_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FormUnreadable("request body too large", too_large=True)
    try:
        return parse_qs(body.decode(), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise FormUnreadable("malformed form body") from None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    """HttpOnly, SameSite=Lax, the whole site, Secure over https."""
    response.set_cookie(
        session.COOKIE,
        session_id,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        session.COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
