"""/projects/{project}/members: users and groups with a role in a project."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
)
from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.query import Match, Term
from registry.rbac import ROLE_NAMES, Action, Role
from registry.services import member


def _role(value: Any) -> Role:
    try:
        return Role(int(value))
    except (TypeError, ValueError):
        raise BadRequest(
            "role_id must be 1 (project admin), 2 (developer), 3 (guest), "
            "4 (maintainer) or 5 (limited guest)"
        ) from None


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "entity_name": row["entity_name"] or "",
        "entity_id": row["entity_id"],
        "entity_type": row["entity_type"],
        "role_id": row["role"],
        "role_name": ROLE_NAMES[Role(row["role"])],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


@harbor_endpoint
async def list_members(request: Request) -> Response:
    project = await project_for(request, Action.READ_MEMBERS)
    query = list_query(request, filters=None).without_sort()
    name = request.query_params.get("entityname")
    if name:
        query = query.with_filter("entityname", Term(Match.CONTAINS, (name,)))
    rows, total = await member.list_members(backends(request), project, query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))


def _id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadRequest(f"{where} must be a positive integer")
    return value


def _member(body: dict[str, Any]) -> member.UserMember | member.GroupMember:
    user = body.get("member_user")
    group = body.get("member_group")
    if isinstance(user, dict) and (user.get("user_id") or user.get("username")):
        if user.get("user_id"):
            return member.UserMember(user_id=_id(user["user_id"], "member_user.user_id"))
        return member.UserMember(username=str(user["username"]))
    if isinstance(group, dict) and (
        group.get("id") or group.get("ldap_group_dn") or group.get("group_name")
    ):
        if group.get("id"):
            return member.GroupMember(group_id=_id(group["id"], "member_group.id"))
        if not group.get("ldap_group_dn"):
            # OIDC and HTTP groups are known by name.
            return member.GroupMember(
                group_name=str(group["group_name"]), group_type=group.get("group_type")
            )
        return member.GroupMember(
            ldap_group_dn=str(group["ldap_group_dn"]),
            group_name=str(group["group_name"]) if group.get("group_name") else None,
            group_type=group.get("group_type"),
        )
    raise BadRequest("member_user or member_group is required")


@harbor_endpoint
async def add_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    body = await read_object(request)
    role = _role(body.get("role_id"))
    actor = await principal_of(request)
    member_id = await member.add_member(backends(request), actor, project, _member(body), role)
    return created(f"/api/v2.0/projects/{project.id}/members/{member_id}")


@harbor_endpoint
async def get_member(request: Request) -> Response:
    project = await project_for(request, Action.READ_MEMBERS)
    row = await member.get_member(backends(request), project, int_path(request, "mid"))
    return json_response(_to_json(row))


@harbor_endpoint
async def update_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    body = await read_object(request)
    role = _role(body.get("role_id"))
    actor = await principal_of(request)
    await member.change_role(backends(request), actor, project, int_path(request, "mid"), role)
    return Response(status_code=200)


@harbor_endpoint
async def delete_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    actor = await principal_of(request)
    await member.remove_member(backends(request), actor, project, int_path(request, "mid"))
    return Response(status_code=200)
