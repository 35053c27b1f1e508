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
from registry.api.v2_0.errors import BadRequest, Conflict, NotFound
from registry.api.v2_0.listing import list_headers, page_of
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.db import groups, members, users
from registry.rbac import ROLE_NAMES, Action, Role
from registry.services.audit import AuditEvent


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
    page = page_of(request)
    rows, total = await members.list_for_project(
        backends(request).db,
        project.id,
        request.query_params.get("entityname") or None,
        page.page_size,
        page.offset,
    )
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


def _id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadRequest(f"{where} must be a positive integer")
    return value


async def _entity(request: Request, body: dict[str, Any]) -> tuple[str, int, str]:
    db = backends(request).db
    user = body.get("member_user")
    group = body.get("member_group")
    if isinstance(user, dict) and (user.get("user_id") or user.get("username")):
        if user.get("user_id"):
            user_id = _id(user["user_id"], "member_user.user_id")
            row = await users.get(db, user_id)
        else:
            row = await users.get_by_username(db, str(user["username"]))
            if row is None:
                # An LDAP user not seen yet is onboarded from the directory, as Harbor does.
                row = await _import_ldap_user(request, str(user["username"]))
        if row is None:
            raise NotFound("user not found")
        return "u", row["id"], row["username"]
    if isinstance(group, dict) and (group.get("id") or group.get("ldap_group_dn")):
        if group.get("id"):
            grow = await groups.get(db, _id(group["id"], "member_group.id"))
        else:
            dn = str(group["ldap_group_dn"])
            grow = await groups.find_by_dn(db, dn)
            if grow is None:
                name = str(group.get("group_name") or dn.split(",", 1)[0].split("=", 1)[-1])
                group_type = group.get("group_type") or 1
                if group_type not in (1, 2, 3):
                    raise BadRequest("member_group.group_type is 1, 2 or 3")
                await groups.create(db, name, group_type, dn)
                grow = await groups.find_by_dn(db, dn)
        if grow is None:
            raise NotFound("group not found")
        return "g", grow["id"], grow["group_name"]
    raise BadRequest("member_user or member_group is required")


async def _import_ldap_user(request: Request, username: str) -> asyncpg.Record | None:
    from registry.auth.ldap import find_user
    from registry.services.identity import ldap_config

    b = backends(request)
    config = await b.config.get()
    if config["auth_mode"] != "ldap_auth":
        return None
    identity = await find_user(ldap_config(config), username)
    if identity is None:
        return None
    principal = await b.identity.onboard(identity)
    assert principal.user_id is not None
    return await users.get(b.db, principal.user_id)


@harbor_endpoint
async def add_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    body = await read_object(request)
    role = _role(body.get("role_id"))
    entity_type, entity_id, name = await _entity(request, body)
    b = backends(request)
    member_id = await members.add(b.db, project.id, entity_type, entity_id, int(role))
    if member_id is None:
        raise Conflict(f"{name} is already a member of {project.name}")
    actor = await principal_of(request)
    await b.audit.record(
        AuditEvent("create", "member", f"{project.name}:{name}", actor.name, project.id)
    )
    return created(f"/api/v2.0/projects/{project.id}/members/{member_id}")


@harbor_endpoint
async def get_member(request: Request) -> Response:
    project = await project_for(request, Action.READ_MEMBERS)
    row = await members.get(backends(request).db, project.id, int_path(request, "mid"))
    if row is None:
        raise NotFound("member not found")
    return json_response(_to_json(row))


@harbor_endpoint
async def update_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    body = await read_object(request)
    role = _role(body.get("role_id"))
    b = backends(request)
    member_id = int_path(request, "mid")
    if not await members.update_role(b.db, project.id, member_id, int(role)):
        raise NotFound("member not found")
    actor = await principal_of(request)
    await b.audit.record(
        AuditEvent("update", "member", f"{project.name}:{member_id}", actor.name, project.id)
    )
    return Response(status_code=200)


@harbor_endpoint
async def delete_member(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_MEMBERS)
    b = backends(request)
    member_id = int_path(request, "mid")
    if not await members.remove(b.db, project.id, member_id):
        raise NotFound("member not found")
    actor = await principal_of(request)
    await b.audit.record(
        AuditEvent("delete", "member", f"{project.name}:{member_id}", actor.name, project.id)
    )
    return Response(status_code=200)
