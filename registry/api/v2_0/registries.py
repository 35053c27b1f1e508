"""/registries and /replication/adapters…: the remote registries replication talks to.

System administrators only, as in Harbor. A registry's access secret is write-only: it is
shown as ``*****`` when set, and an update without it keeps the stored one.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
)
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, sysadmin
from registry.services import replication_registry

HIDDEN = "*****"


def registry_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "type": row["type"],
        "url": row["url"],
        "insecure": row["insecure"],
        "credential": {
            "type": row["credential_type"],
            "access_key": row["access_key"],
            "access_secret": HIDDEN if row["access_secret"] else "",
        },
        "status": row["status"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


@harbor_endpoint
async def list_registries(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request)
    rows, total = await replication_registry.list_registries(backends(request), query)
    return json_response(
        [registry_json(r) for r in rows], headers=list_headers(request, query, total)
    )


@harbor_endpoint
async def create_registry(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    registry_id = await replication_registry.create_registry(backends(request), principal, body)
    return created(f"/api/v2.0/registries/{registry_id}")


@harbor_endpoint
async def get_registry(request: Request) -> Response:
    await sysadmin(request)
    row = await replication_registry.get_registry(backends(request), int_path(request, "id"))
    return json_response(registry_json(row))


@harbor_endpoint
async def update_registry(request: Request) -> Response:
    principal = await sysadmin(request)
    registry_id = int_path(request, "id")
    body = await read_object(request)
    await replication_registry.update_registry(backends(request), principal, registry_id, body)
    return Response(status_code=200)


@harbor_endpoint
async def delete_registry(request: Request) -> Response:
    principal = await sysadmin(request)
    registry_id = int_path(request, "id")
    await replication_registry.delete_registry(backends(request), principal, registry_id)
    return Response(status_code=200)


@harbor_endpoint
async def ping_registry(request: Request) -> Response:
    await sysadmin(request)
    body = await read_object(request)
    await replication_registry.ping(backends(request), body)
    return Response(status_code=200)


@harbor_endpoint
async def registry_info(request: Request) -> Response:
    await sysadmin(request)
    info = await replication_registry.registry_info(backends(request), int_path(request, "id"))
    return json_response(info)


@harbor_endpoint
async def list_adapters(request: Request) -> Response:
    await sysadmin(request)
    return json_response(replication_registry.adapter_types())


@harbor_endpoint
async def adapter_infos(request: Request) -> Response:
    await sysadmin(request)
    return json_response(replication_registry.adapter_infos())


_B = "/api/v2.0/registries"

routes = [
    Route(_B, list_registries, methods=["GET"]),
    Route(_B, create_registry, methods=["POST"]),
    Route(f"{_B}/ping", ping_registry, methods=["POST"]),
    Route(f"{_B}/{{id}}", get_registry, methods=["GET"]),
    Route(f"{_B}/{{id}}", update_registry, methods=["PUT"]),
    Route(f"{_B}/{{id}}", delete_registry, methods=["DELETE"]),
    Route(f"{_B}/{{id}}/info", registry_info, methods=["GET"]),
    Route("/api/v2.0/replication/adapters", list_adapters, methods=["GET"]),
    Route("/api/v2.0/replication/adapterinfos", adapter_infos, methods=["GET"]),
]
