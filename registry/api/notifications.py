"""``/service/notifications`` (the ``notifications_path`` setting): where remote registries
report pushes and deletes (see :mod:`registry.services.replication_inbound`)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.services import replication_inbound
from registry.services.context import Backends
from registry.services.errors import InvalidRequest

# Distribution batches a few events per delivery; far below this.
MAX_BODY_BYTES = 1024 * 1024


def _answer(status: int, message: str) -> Response:
    body = {
        "errors": [{"code": "UNAUTHORIZED" if status == 401 else "BAD_REQUEST", "message": message}]
    }
    return Response(json.dumps(body), status, media_type="application/json")


async def notifications(request: Request) -> Response:
    b: Backends = request.state.backends
    registry = await replication_inbound.sender(b, request.headers.get("authorization", ""))
    if registry is None:
        return _answer(401, "no registry has this webhook secret")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            return _answer(413, "notification too large")
    try:
        events = replication_inbound.parse_notification(json.loads(raw))
    except (ValueError, RecursionError):
        return _answer(400, "the notification is not valid JSON")
    except InvalidRequest as exc:
        return _answer(400, exc.message)
    started = await replication_inbound.handle_notification(b, registry, events)
    return Response(
        json.dumps({"events": len(events), "executions": started}),
        200,
        media_type="application/json",
    )


def routes(path: str) -> list[Route]:
    """The inbound route, at ``path``."""
    return [Route(path, notifications, methods=["POST"])]
