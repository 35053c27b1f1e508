"""The wrapper every /v2/ handler goes through: errors to OCI responses, common headers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from registry.api.distribution.access import Challenge
from registry.api.distribution.errors import oci_error, render
from registry.services.availability import as_unavailable
from registry.services.errors import RangeInvalid, RegistryError, SizeInvalid

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
RETRY_AFTER = {"Retry-After": "5"}


def oci_endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            response = await handler(request)
        except Challenge as exc:
            response = render(exc, {"WWW-Authenticate": exc.header(request)})
        except RangeInvalid as exc:
            response = render(
                exc,
                {
                    "Range": f"0-{max(exc.current_size - 1, 0)}",
                    "Location": request.url.path,
                },
            )
        except RegistryError as exc:
            response = render(exc)
        except ClientDisconnect:
            # Nothing to answer; the handler already cleaned up what it had started.
            response = Response(status_code=400)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is None:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                response = oci_error("UNKNOWN", "internal server error", 500)
            else:
                log.warning("%s %s: %s (%r)", request.method, request.url.path, unavailable, exc)
                response = render(unavailable, RETRY_AFTER)
        response.headers.update(API_VERSION_HEADER)
        return response

    return wrapped


def content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise SizeInvalid("invalid Content-Length")
    return int(value)
