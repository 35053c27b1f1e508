"""The wrapper every portal page goes through: errors become pages, never tracebacks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from registry.portal.errors import LoginRequired, PageError, status_of
from registry.portal.security import viewer
from registry.portal.templating import render
from registry.query import QueryInvalid
from registry.services.availability import as_unavailable
from registry.services.errors import RegistryError

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def page(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            await viewer(request)
            return await handler(request)
        except LoginRequired:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse("/?next=" + quote(target, safe=""), status_code=303)
        except PageError as exc:
            return error_page(request, exc.status, exc.message)
        except QueryInvalid as exc:
            return error_page(request, 400, exc.message)
        except RegistryError as exc:
            return error_page(request, status_of(exc), exc.message)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                log.warning("%s %s: %s (%r)", request.method, request.url.path, unavailable, exc)
                return error_page(request, 503, "A service Berth needs is unavailable; retry.")
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_page(request, 500, "Something went wrong on Berth's side.")

    return wrapped


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: the browser GETs the result (no re-post on reload)."""
    return RedirectResponse(url, status_code=303)
