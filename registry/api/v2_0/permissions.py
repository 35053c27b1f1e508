"""/permissions (what robot accounts may be given) and /users/current/permissions (what the
caller may do in a scope), in Harbor's resource/action pairs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import harbor_endpoint, json_response
from registry.api.v2_0.security import authenticated, backends
from registry.services import permissions


@harbor_endpoint
async def grantable(request: Request) -> Response:
    actor = await authenticated(request)
    levels = await permissions.grantable(backends(request), actor)
    return json_response(
        {
            level: [{"resource": p.resource, "action": p.action} for p in items]
            for level, items in levels.items()
        }
    )


@harbor_endpoint
async def current_permissions(request: Request) -> Response:
    actor = await authenticated(request)
    params = request.query_params
    found = await permissions.current_permissions(
        backends(request),
        actor,
        params.get("scope"),
        params.get("relative", "").lower() == "true",
    )
    return json_response([{"resource": p.resource, "action": p.action} for p in found])


routes = [
    Route("/api/v2.0/permissions", grantable, methods=["GET"]),
    Route("/api/v2.0/users/current/permissions", current_permissions, methods=["GET"]),
]
