"""/systeminfo/volumes, /systeminfo/getcert and /icons/{digest}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import harbor_endpoint, json_response
from registry.api.v2_0.security import backends, sysadmin
from registry.services import icons, system_info


@harbor_endpoint
async def volumes(request: Request) -> Response:
    await sysadmin(request)
    found = await system_info.volumes(backends(request))
    return json_response({"storage": [{"total": v.total, "free": v.free} for v in found]})


@harbor_endpoint
async def ca_certificate(request: Request) -> Response:
    content = await system_info.ca_certificate(backends(request))
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="ca.crt"'},
    )


@harbor_endpoint
async def icon(request: Request) -> Response:
    found = icons.get_icon(request.path_params["digest"])
    return json_response({"content-type": found.content_type, "content": found.base64})


routes = [
    Route("/api/v2.0/systeminfo/volumes", volumes, methods=["GET"]),
    Route("/api/v2.0/systeminfo/getcert", ca_certificate, methods=["GET"]),
    Route("/api/v2.0/icons/{digest}", icon, methods=["GET"]),
]
