"""/ping, /health, /systeminfo and /configurations."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.security import backends, principal_of, sysadmin
from registry.services.audit import AuditEvent
from registry.services.configuration import for_display

VERSION = "v2.0.0-berth"


async def ping(request: Request) -> Response:
    return PlainTextResponse("Pong")


@harbor_endpoint
async def health(request: Request) -> Response:
    b = backends(request)

    async def check(name: str, probe: Any) -> dict[str, Any]:
        try:
            await asyncio.wait_for(probe, timeout=3)
            return {"name": name, "status": "healthy"}
        except Exception as exc:
            return {"name": name, "status": "unhealthy", "error": type(exc).__name__}

    components = [
        await check("database", b.db.fetchval("SELECT 1")),
        await check("redis", b.redis.ping()),
        await check("storage", b.storage.list("/")),
    ]
    status = "healthy" if all(c["status"] == "healthy" for c in components) else "unhealthy"
    return json_response({"status": status, "components": components})


@harbor_endpoint
async def systeminfo(request: Request) -> Response:
    b = backends(request)
    config = await b.config.get()
    principal = await principal_of(request)
    body: dict[str, Any] = {
        "auth_mode": config["auth_mode"],
        "self_registration": config["self_registration"],
        "harbor_version": VERSION,
        "registry_url": b.settings.external_url or "",
        "read_only": config["read_only"],
        "with_chartmuseum": False,
    }
    if not principal.anonymous:
        body["project_creation_restriction"] = config["project_creation_restriction"]
    return json_response(body)


@harbor_endpoint
async def get_configurations(request: Request) -> Response:
    await sysadmin(request)
    return json_response(for_display(await backends(request).config.get()))


@harbor_endpoint
async def put_configurations(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    b = backends(request)
    await b.config.update(body)
    b.identity.forget_all()
    # Record which keys changed, never their values: some are secrets.
    b.audit.record(AuditEvent("update", "configuration", ",".join(sorted(body)), principal.name))
    return Response(status_code=200)
