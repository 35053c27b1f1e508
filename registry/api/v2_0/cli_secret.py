"""/users/{user_id}/cli_secret: the secret an OIDC user gives docker, podman or helm."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import harbor_endpoint, int_path, read_object
from registry.api.v2_0.security import authenticated, backends
from registry.services import oidc


@harbor_endpoint
async def set_cli_secret(request: Request) -> Response:
    actor = await authenticated(request)
    body = await read_object(request)
    await oidc.set_cli_secret(
        backends(request), actor, int_path(request, "user_id"), body.get("secret")
    )
    return Response(status_code=200)


routes = [Route("/api/v2.0/users/{user_id}/cli_secret", set_cli_secret, methods=["PUT"])]
