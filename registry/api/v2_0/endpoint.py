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
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    from_domain,
    render,
)
from registry.query import QueryInvalid
from registry.services.availability import as_unavailable
from registry.services.errors import RegistryError, ServiceUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

RETRY_AFTER = {"Retry-After": "5"}

# Management requests are small; anything bigger is a mistake or an attack.
MAX_JSON_BYTES = 1024 * 1024


def harbor_endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            check_request_text(request)
            return await handler(request)
        except Unauthorized as exc:
            return render(exc, {"WWW-Authenticate": 'Basic realm="Berth"'})
        except HarborError as exc:
            return render(exc)
        except QueryInvalid as exc:
            return render(BadRequest(exc.message))
        except RegistryError as exc:
            retry = RETRY_AFTER if isinstance(exc, ServiceUnavailable) else None
            return render(from_domain(exc), retry)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                log.warning("%s %s: %s (%r)", request.method, request.url.path, unavailable, exc)
                return render(from_domain(unavailable), RETRY_AFTER)
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
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest(f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    _check_values(value)
    return value


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


# Ids are PostgreSQL BIGINTs: a larger number names nothing.
MAX_ID = 2**63 - 1


def parse_id(text: str) -> int | None:
    """A decimal id (ASCII digits only, in BIGINT range), else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def int_path(request: Request, name: str) -> int:
    text = str(request.path_params[name])
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f"{name} must be a positive integer")
    value = parse_id(text)
    if value is None:
        raise NotFound(f"no resource with {name} {text}")
    return value


# Harbor's request bodies nest a few levels; deeper ones would only exhaust a stack later.
MAX_JSON_DEPTH = 32


def _check_values(body: Any) -> None:
    """PostgreSQL cannot store NUL characters, lone surrogates (valid as JSON escapes, not as
    UTF-8) nor integers past BIGINT: refuse them, and deep nesting, up front instead of failing
    deep inside a query. Iterative, so no body can exhaust the stack here."""
    pending: list[tuple[Any, str, int]] = [(body, "body", 1)]
    while pending:
        value, where, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not -MAX_ID - 1 <= value <= MAX_ID:
                raise BadRequest(f"{where} holds a number out of range")
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, where)
                pending.append((item, f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            pending.extend((item, where, depth + 1) for item in value)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise BadRequest(f"{where} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{where} contains a lone surrogate character") from None


def check_request_text(request: Request) -> None:
    """No NUL in the path or query string of a management request."""
    if "\x00" in request.url.path or any(
        "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
    ):
        raise BadRequest("the request contains a NUL character")
