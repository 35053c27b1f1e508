"""The wrapper every /api/v2.0 handler goes through, and request/response helpers."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from registry.api.v2_0.errors import (
    BadRequest,
    HarborError,
    PayloadTooLarge,
    Unauthorized,
    from_domain,
    render,
)
from registry.services.errors import RegistryError

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

# Management requests are small; anything bigger is a mistake or an attack.
MAX_JSON_BYTES = 1024 * 1024


def harbor_endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Unauthorized as exc:
            return render(exc, {"WWW-Authenticate": 'Basic realm="Berth"'})
        except HarborError as exc:
            return render(exc)
        except RegistryError as exc:
            return render(from_domain(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            error = HarborError("internal server error")
            error.status, error.code = 500, "INTERNAL_SERVER_ERROR"
            return render(error)

    return wrapped


async def read_json(request: Request) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BYTES:
            raise PayloadTooLarge("request body too large")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None


async def read_object(request: Request) -> dict[str, Any]:
    value = await read_json(request)
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, default=_default),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def created(location: str) -> Response:
    return Response(status_code=201, headers={"Location": location})


def string_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def int_path(request: Request, name: str) -> int:
    text = request.path_params[name]
    if not str(text).isdigit():
        raise BadRequest(f"{name} must be a positive integer")
    return int(text)
