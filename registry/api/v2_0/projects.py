"""/projects: create, list, get, update, delete, existence check, summary, deletable."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    json_response,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import (
    authenticated,
    backends,
    find_project,
    principal_of,
    project_for,
)
from registry.query import Term, parse_filters
from registry.rbac import ROLE_NAMES, Action, ProjectRef, Role
from registry.services import access, cve_allowlist, proxy_cache
from registry.services import project as project_service


async def _to_json(request: Request, row: asyncpg.Record) -> dict[str, Any]:
    principal = await principal_of(request)
    project = ProjectRef(row["id"], row["name"], row["public"], row["created_at"])
    role = await access.role_in(backends(request).db, principal, project)
    body: dict[str, Any] = {
        "project_id": row["id"],
        "name": row["name"],
        "owner_id": row["owner_id"],
        "owner_name": row["owner_name"] or "",
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
        "deleted": False,
        "togglable": True,
        "registry_id": await proxy_cache.registry_of(backends(request), row["id"]),
        "repo_count": row["repo_count"],
        "chart_count": 0,
        "metadata": row["metadata"] or {},
    }
    if role is not None:
        body["current_user_role_id"] = int(role)
        body["current_user_role_ids"] = [int(role)]
    return body


@harbor_endpoint
async def create_project(request: Request) -> Response:
    principal = await authenticated(request)
    b = backends(request)
    await project_service.check_may_create(b, principal)
    body = await read_object(request)
    name = string_field(body, "project_name")
    assert name is not None
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object")
    if "public" in body and "public" not in metadata:
        metadata["public"] = body["public"]
    storage_limit = body.get("storage_limit", -1)
    if storage_limit is None:
        storage_limit = -1
    if not isinstance(storage_limit, int) or isinstance(storage_limit, bool) or storage_limit < -1:
        raise BadRequest("storage_limit is -1 (unlimited) or a number of bytes")
    registry_id = body.get("registry_id")
    if registry_id is not None:
        registry_id = await proxy_cache.check_may_proxy(b, principal, registry_id)
    project_id = await project_service.create_project(b, principal, name, metadata, storage_limit)
    if registry_id is not None:
        project = ProjectRef(project_id, name, metadata.get("public") in (True, "true"))
        await proxy_cache.make_proxy(b, principal, project, registry_id)
    return created(f"/api/v2.0/projects/{project_id}")


@harbor_endpoint
async def head_project(request: Request) -> Response:
    name = request.query_params.get("project_name")
    if not name:
        raise BadRequest("project_name is required")
    found = await project_service.project_exists(backends(request), name)
    return Response(status_code=200 if found else 404)


def _single_term(key: str, value: str) -> Term:
    """A filter given as its own parameter (``public=true``), read as a ``q`` term would be."""
    return parse_filters(f"{key}={value}")[key]


@harbor_endpoint
async def list_projects(request: Request) -> Response:
    principal = await principal_of(request)
    query = list_query(request)
    params = request.query_params
    for key in ("public", "owner"):
        if value := params.get(key):
            query = query.with_filter(key, _single_term(key, value))
    rows, total = await project_service.list_projects(
        backends(request), principal, query, params.get("name")
    )
    body = [await _to_json(request, row) for row in rows]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def get_project(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    row = await project_service.project_detail(backends(request), project)
    body = await _to_json(request, row)
    body["cve_allowlist"] = await cve_allowlist.get(backends(request), project)
    return json_response(body)


@harbor_endpoint
async def update_project(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object")
    if "public" in body and "public" not in metadata:
        metadata["public"] = body["public"]
    principal = await principal_of(request)
    await project_service.update_project(backends(request), principal, project, metadata)
    allowlist = body.get("cve_allowlist")
    if allowlist is not None:
        if not isinstance(allowlist, dict):
            raise BadRequest("cve_allowlist must be an object")
        await cve_allowlist.put(backends(request), principal, project, allowlist)
    return Response(status_code=200)


@harbor_endpoint
async def delete_project(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    principal = await principal_of(request)
    await project_service.delete_project(backends(request), principal, project)
    return Response(status_code=200)


@harbor_endpoint
async def deletable(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    held = await project_service.repositories_held(backends(request), project)
    body: dict[str, Any] = {"deletable": held == 0}
    if held:
        body["message"] = "the project contains repositories, can not be deleted"
    return json_response(body)


@harbor_endpoint
async def summary(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    counts = await project_service.summary(backends(request), project)
    hard, used = await project_service.storage_quota(backends(request), project)
    quota = {"hard": {"storage": hard}, "used": {"storage": used}}
    return json_response({**counts, "chart_count": 0, "quota": quota})


def role_json(role: Role) -> dict[str, Any]:
    return {"role_id": int(role), "role_name": ROLE_NAMES[role]}


async def resolve_project(request: Request, name_or_id: str) -> ProjectRef:
    project = await find_project(request, name_or_id)
    if project is None:
        raise NotFound(f"project {name_or_id} not found")
    return project
