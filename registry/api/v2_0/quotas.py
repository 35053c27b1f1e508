"""/quotas: one storage quota per project."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, int_path, json_response, read_object
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, page_of
from registry.api.v2_0.security import backends, find_project, require, sysadmin
from registry.db import quotas
from registry.rbac import Action
from registry.services.audit import AuditEvent

_SORTS = {
    "hard.storage": "q.hard_storage",
    "used.storage": "used_storage",
    "creation_time": "q.created_at",
}


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
    page = page_of(request)
    project_ids: list[int] | None = None
    reference_id = request.query_params.get("reference_id")
    if reference_id:
        project = await find_project(request, reference_id)
        if project is None:
            raise NotFound("project not found")
        await require(request, project, Action.READ_PROJECT)
        project_ids = [project.id]
    else:
        await sysadmin(request)
    sort = request.query_params.get("sort") or ""
    key = sort.lstrip("-")
    if sort and key not in _SORTS:
        raise BadRequest(f"unsupported sort key {key!r}")
    order = (
        f"ORDER BY {_SORTS[key]} {'DESC' if sort.startswith('-') else 'ASC'}, q.id"
        if sort
        else "ORDER BY q.id"
    )
    rows, total = await quotas.search(
        backends(request).db, project_ids, page.page_size, page.offset, order
    )
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def get_quota(request: Request) -> Response:
    row = await quotas.get(backends(request).db, int_path(request, "id"))
    if row is None:
        raise NotFound("quota not found")
    project = await find_project(request, str(row["project_id"]))
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
    if not isinstance(storage, int) or isinstance(storage, bool) or storage < -1:
        raise BadRequest("hard.storage is -1 (unlimited) or a number of bytes")
    b = backends(request)
    quota_id = int_path(request, "id")
    if not await quotas.set_hard(b.db, quota_id, storage):
        raise NotFound("quota not found")
    await b.audit.record(AuditEvent("update", "quota", str(quota_id), principal.name))
    return Response(status_code=200)
