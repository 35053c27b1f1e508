"""The repository a /v2/ read names, with Berth acting as a registry mirror: a name Berth
does not hold is the mirror proxy project's (see :mod:`registry.services.proxy_mirror`)."""

from __future__ import annotations

from starlette.requests import Request

from registry.services import proxy_mirror
from registry.services.context import Backends


async def read_name(request: Request) -> str:
    name: str = request.path_params["name"]
    b: Backends = request.state.backends
    if not b.settings.proxy_mirrors:
        return name
    # containerd names the registry it mirrors; other clients do not.
    routed = await proxy_mirror.mirrored_name(b, name, request.query_params.get("ns"))
    return routed or name
