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
from registry.api.v2_0.errors import BadRequest, Forbidden, NotFound
from registry.api.v2_0.listing import SqlFilter, list_headers, page_of, parse_query
from registry.api.v2_0.security import (
    authenticated,
    backends,
    find_project,
    principal_of,
    project_for,
)
from registry.auth.principal import Principal, PrincipalKind
from registry.db import projects
from registry.rbac import ROLE_NAMES, Action, ProjectRef, Role
from registry.services import access
from registry.services import projects as project_service

_COLUMNS = {
    "name": ("p.name", "text"),
    "project_id": ("p.id", "bigint"),
    "public": ("p.public", "bool"),
    "owner": ("u.username", "text"),
    "creation_time": ("p.created_at", "timestamptz"),
    "update_time": ("p.updated_at", "timestamptz"),
}


_MEMBER_OF = """(p.public OR EXISTS (
    SELECT 1 FROM project_members m WHERE m.project_id = p.id AND (
        (m.entity_type = 'u' AND m.entity_id = {user}) OR
        (m.entity_type = 'g' AND m.entity_id = ANY({groups}::bigint[])))))"""
_ROBOT_IN = """(p.public OR EXISTS (
    SELECT 1 FROM robot_permissions rp
    WHERE rp.robot_id = {robot} AND (rp.namespace = p.name OR rp.namespace = '*')))"""


def visible_to(principal: Principal, sql: SqlFilter) -> None:
    """Only $n placeholders are put into the SQL text; the values travel as parameters."""
    if principal.sysadmin:
        return
    if principal.kind is PrincipalKind.USER:
        user, groups = sql.param(principal.user_id), sql.param(list(principal.group_ids))
        sql.add(_MEMBER_OF.format(user=user, groups=groups))
    elif principal.kind is PrincipalKind.ROBOT:
        sql.add(_ROBOT_IN.format(robot=sql.param(principal.robot_id)))
    else:
        sql.add("p.public")


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
        "registry_id": None,
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
    config = await b.config.get()
    if config["project_creation_restriction"] == "adminonly" and not principal.sysadmin:
        raise Forbidden("only system administrators may create projects")
    if principal.kind is PrincipalKind.ROBOT and not principal.sysadmin:
        raise Forbidden("robot accounts cannot create projects")
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
    project_id = await project_service.create_project(b, principal, name, metadata, storage_limit)
    return created(f"/api/v2.0/projects/{project_id}")


@harbor_endpoint
async def head_project(request: Request) -> Response:
    name = request.query_params.get("project_name")
    if not name:
        raise BadRequest("project_name is required")
    found = await projects.get_by_name(backends(request).db, name)
    return Response(status_code=200 if found else 404)


@harbor_endpoint
async def list_projects(request: Request) -> Response:
    principal = await principal_of(request)
    page = page_of(request)
    sql = SqlFilter(_COLUMNS)
    visible_to(principal, sql)
    query = parse_query(request.query_params.get("q"))
    if name := request.query_params.get("name"):
        sql.add(f"p.name ILIKE '%' || {sql.param(name)} || '%'")
    if public := request.query_params.get("public"):
        query["public"] = parse_query(f"public={public}")["public"]
    if owner := request.query_params.get("owner"):
        query["owner"] = parse_query(f"owner={owner}")["owner"]
    sql.apply_query(query)
    rows, total = await projects.list_detail(
        backends(request).db,
        sql.where(),
        sql.order_by(request.query_params.get("sort"), "p.id"),
        sql.params,
        page.page_size,
        page.offset,
    )
    body = [await _to_json(request, row) for row in rows]
    return json_response(body, headers=list_headers(request, page, total))


@harbor_endpoint
async def get_project(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    row = await projects.get_detail(backends(request).db, project.id)
    if row is None:
        raise NotFound("project not found")
    return json_response(await _to_json(request, row))


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
    held = await backends(request).db.fetchval(
        "SELECT count(*) FROM repositories WHERE project_id = $1", project.id
    )
    body: dict[str, Any] = {"deletable": held == 0}
    if held:
        body["message"] = f"the project still holds {held} repositories"
    return json_response(body)


@harbor_endpoint
async def summary(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    db = backends(request).db
    counts = await db.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM repositories WHERE project_id = $1) AS repo_count,
          count(*) FILTER (WHERE role = 1) AS project_admin_count,
          count(*) FILTER (WHERE role = 4) AS maintainer_count,
          count(*) FILTER (WHERE role = 2) AS developer_count,
          count(*) FILTER (WHERE role = 3) AS guest_count,
          count(*) FILTER (WHERE role = 5) AS limited_guest_count
        FROM project_members WHERE project_id = $1
        """,
        project.id,
    )
    assert counts is not None
    return json_response({**dict(counts), "chart_count": 0})


def role_json(role: Role) -> dict[str, Any]:
    return {"role_id": int(role), "role_name": ROLE_NAMES[role]}


async def resolve_project(request: Request, name_or_id: str) -> ProjectRef:
    project = await find_project(request, name_or_id)
    if project is None:
        raise NotFound(f"project {name_or_id} not found")
    return project
