"""/quotas: one storage quota per project."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, int_path, json_response, read_object
from registry.api.v2_0.errors import NotFound
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, find_project, require, sysadmin
from registry.rbac import Action
from registry.services import quota
from registry.services.project import find_by_id


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "ref": {
            "id": row["project_id"],
            "name": row["project_name"],
            "owner_name": row["owner_name"] or "",
        },
        "hard": {"storage": row["hard_storage"]},
        "used": {"storage": row["used_storage"]},
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


@harbor_endpoint
async def list_quotas(request: Request) -> Response:
    query = list_query(request, filters=None)
    project_id: int | None = None
    reference_id = request.query_params.get("reference_id")
    if reference_id:
        project = await find_project(request, reference_id)
        if project is None:
            raise NotFound("project not found")
        await require(request, project, Action.READ_PROJECT)
        project_id = project.id
    else:
        await sysadmin(request)
    rows, total = await quota.list_quotas(backends(request), project_id, query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def get_quota(request: Request) -> Response:
    b = backends(request)
    row = await quota.get_quota(b, int_path(request, "id"))
    project = await find_by_id(b.db, row["project_id"])
    if project is None:
        raise NotFound("quota not found")
    await require(request, project, Action.READ_PROJECT)
    return json_response(_to_json(row))


@harbor_endpoint
async def update_quota(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    hard = body.get("hard")
    storage = hard.get("storage") if isinstance(hard, dict) else None
    await quota.set_storage_limit(backends(request), principal, int_path(request, "id"), storage)
    return Response(status_code=200)
