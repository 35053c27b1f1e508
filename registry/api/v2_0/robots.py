"""/robots: Harbor's v2 robot accounts, system or project level, with explicit permissions."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import (
    harbor_endpoint,
    int_path,
    json_response,
    parse_id,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import BadRequest, Conflict, Forbidden, NotFound
from registry.api.v2_0.listing import list_headers, page_of, parse_query
from registry.api.v2_0.security import authenticated, backends, find_project, require
from registry.api.v2_0.users import check_password
from registry.auth.password import hash_password
from registry.auth.principal import Principal
from registry.db import robots
from registry.rbac import ROBOT_ACCESS, Action, ProjectRef
from registry.services.audit import AuditEvent
from registry.services.identity import ROBOT_PREFIX

_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def _generate_secret() -> str:
    # Harbor's secret rule (upper, lower, digit) holds for every generated secret.
    while True:
        secret = secrets.token_urlsafe(24)
        if (
            any(c.isupper() for c in secret)
            and any(c.islower() for c in secret)
            and any(c.isdigit() for c in secret)
        ):
            return secret


def _permissions(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise BadRequest("permissions must be a list")
    clean = []
    for item in value:
        if not isinstance(item, dict) or item.get("kind", "project") != "project":
            raise BadRequest('each permission needs kind "project"')
        namespace = item.get("namespace")
        access = item.get("access")
        if not isinstance(namespace, str) or not namespace or not isinstance(access, list):
            raise BadRequest("each permission needs a namespace and an access list")
        entries = []
        for entry in access:
            if not isinstance(entry, dict):
                raise BadRequest("access entries are objects")
            resource, action = entry.get("resource"), entry.get("action")
            if not isinstance(resource, str) or not isinstance(action, str):
                raise BadRequest("resource and action are strings")
            if (resource, action) not in ROBOT_ACCESS:
                raise BadRequest(f"unsupported robot permission {resource}:{action}")
            effect = entry.get("effect", "allow")
            if effect == "deny":
                # A robot holds exactly what it is given: there is nothing for a deny to take
                # away, and silently keeping one would suggest it does something.
                raise BadRequest(
                    f"deny permissions are not supported ({resource}:{action}): "
                    "leave the item out instead"
                )
            if effect != "allow":
                raise BadRequest("effect must be allow")
            entries.append({"resource": resource, "action": action, "effect": effect})
        clean.append({"kind": "project", "namespace": namespace, "access": entries})
    return clean


MAX_DURATION_DAYS = 36_500


def _expiry(duration: int) -> datetime | None:
    if duration == -1:
        return None
    if not 0 < duration <= MAX_DURATION_DAYS:
        raise BadRequest(
            f"duration is -1 (never expires) or a number of days up to {MAX_DURATION_DAYS}"
        )
    return datetime.now(UTC) + timedelta(days=duration)


async def _resolve_namespaces(
    request: Request, permissions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each permission with its project looked up once, now: stored by id (and the project's
    name for display), so the robot is later checked against exactly that project."""
    resolved = []
    for permission in permissions:
        namespace = permission["namespace"]
        if namespace == "*":
            resolved.append({**permission, "project_id": None})
            continue
        project = await find_project(request, namespace)
        if project is None:
            raise NotFound(f"project {namespace} not found")
        resolved.append({**permission, "namespace": project.name, "project_id": project.id})
    return resolved


async def _authorize_permissions(
    request: Request, principal: Principal, level: str, permissions: list[dict[str, Any]]
) -> tuple[ProjectRef | None, list[dict[str, Any]]]:
    """Check the caller may hand out these permissions; the project of a project robot, and
    the permissions with their projects resolved."""
    if level == "system":
        if not principal.sysadmin:
            raise Forbidden("only system administrators create system robot accounts")
        return None, await _resolve_namespaces(request, permissions)
    if len(permissions) != 1 or permissions[0]["namespace"] == "*":
        raise BadRequest("a project robot account has permissions in exactly one project")
    resolved = await _resolve_namespaces(request, permissions)
    project = await find_project(request, str(resolved[0]["project_id"]))
    if project is None:
        raise NotFound(f"project {permissions[0]['namespace']} not found")
    await require(request, project, Action.MANAGE_ROBOTS)
    return project, resolved


def _to_json(row: asyncpg.Record, permissions: list[asyncpg.Record]) -> dict[str, Any]:
    expires_at = row["expires_at"]
    return {
        "id": row["id"],
        "name": ROBOT_PREFIX + row["name"],
        "description": row["description"],
        "level": row["level"],
        "duration": row["duration"],
        "disable": row["disabled"],
        "editable": True,
        "expires_at": int(expires_at.timestamp()) if expires_at else -1,
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
        "permissions": [
            {"kind": p["kind"], "namespace": p["namespace"], "access": p["access"]}
            for p in permissions
        ],
    }


@harbor_endpoint
async def create_robot(request: Request) -> Response:
    principal = await authenticated(request)
    body = await read_object(request)
    name = string_field(body, "name")
    assert name is not None
    if not _NAME.fullmatch(name):
        raise BadRequest("robot names are lower-case letters and digits, separated by . _ -")
    level = body.get("level", "system")
    if level not in ("system", "project"):
        raise BadRequest("level must be system or project")
    duration = body.get("duration", -1)
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise BadRequest("duration must be an integer")
    disabled = body.get("disable", False)
    if not isinstance(disabled, bool):
        raise BadRequest("disable must be a boolean")
    project, permissions = await _authorize_permissions(
        request, principal, level, _permissions(body.get("permissions", []))
    )
    project_id = project.id if project is not None else None
    full_name = f"{project.name}+{name}" if project is not None else name
    secret = string_field(body, "secret", required=False) or _generate_secret()
    check_password(secret)
    b = backends(request)
    async with b.db.acquire() as conn, conn.transaction():
        robot_id = await robots.create(
            conn,
            name=full_name,
            description=string_field(body, "description", required=False) or "",
            level=level,
            project_id=project_id,
            secret_hash=await asyncio.to_thread(hash_password, secret),
            disabled=disabled,
            duration=duration,
            expires_at=_expiry(duration),
            creator=principal.name,
        )
        if robot_id is None:
            raise Conflict(f"robot account {ROBOT_PREFIX}{full_name} already exists")
        await robots.set_permissions(conn, robot_id, permissions)
    row = await robots.get(b.db, robot_id)
    assert row is not None
    await b.audit.record(
        AuditEvent("create", "robot", ROBOT_PREFIX + full_name, principal.name, project_id)
    )
    expires_at = row["expires_at"]
    return json_response(
        {
            "id": robot_id,
            "name": ROBOT_PREFIX + full_name,
            "secret": secret,
            "creation_time": row["created_at"],
            "expires_at": int(expires_at.timestamp()) if expires_at else -1,
        },
        status=201,
        headers={"Location": f"/api/v2.0/robots/{robot_id}"},
    )


async def _robot_for(request: Request, manage: bool) -> asyncpg.Record:
    principal = await authenticated(request)
    b = backends(request)
    row = await robots.get(b.db, int_path(request, "robot_id"))
    if row is None:
        raise NotFound("robot account not found")
    if principal.sysadmin:
        return row
    if row["level"] == "system" or row["project_id"] is None:
        raise Forbidden("only system administrators manage system robot accounts")
    project = await find_project(request, str(row["project_id"]))
    if project is None:
        raise NotFound("robot account not found")
    await require(request, project, Action.MANAGE_ROBOTS if manage else Action.READ_ROBOTS)
    return row


@harbor_endpoint
async def list_robots(request: Request) -> Response:
    principal = await authenticated(request)
    page = page_of(request)
    query = parse_query(request.query_params.get("q"))

    def single(key: str) -> str | None:
        if key not in query:
            return None
        if len(query[key].values) != 1:
            raise BadRequest(f"{key} takes one value")
        return query[key].values[0]

    level = single("Level")
    project_text = single("ProjectID")
    project_id = parse_id(project_text) if project_text is not None else None
    if project_text is not None and project_id is None:
        raise BadRequest("ProjectID must be a project id")
    name = single("name")
    if not principal.sysadmin:
        if project_id is None:
            raise Forbidden(
                "list the robot accounts of one project: q=Level=project,ProjectID=<id>"
            )
        project = await find_project(request, str(project_id))
        if project is None:
            raise NotFound("project not found")
        await require(request, project, Action.READ_ROBOTS)
    b = backends(request)
    rows, total = await robots.search(b.db, level, project_id, name, page.page_size, page.offset)
    perms = await robots.permissions(b.db, [r["id"] for r in rows])
    body = [_to_json(r, perms[r["id"]]) for r in rows]
    return json_response(body, headers=list_headers(request, page, total))


@harbor_endpoint
async def get_robot(request: Request) -> Response:
    row = await _robot_for(request, manage=False)
    perms = await robots.permissions(backends(request).db, [row["id"]])
    return json_response(_to_json(row, perms[row["id"]]))


@harbor_endpoint
async def update_robot(request: Request) -> Response:
    row = await _robot_for(request, manage=True)
    principal = await authenticated(request)
    body = await read_object(request)
    duration = body.get("duration", row["duration"])
    disabled = body.get("disable", row["disabled"])
    if not isinstance(duration, int) or not isinstance(disabled, bool):
        raise BadRequest("duration is an integer and disable a boolean")
    b = backends(request)
    async with b.db.acquire() as conn, conn.transaction():
        if "permissions" in body:
            project, permissions = await _authorize_permissions(
                request, principal, row["level"], _permissions(body["permissions"])
            )
            project_id = project.id if project is not None else None
            if row["level"] == "project" and project_id != row["project_id"]:
                raise BadRequest("a project robot account stays in its project")
            await robots.set_permissions(conn, row["id"], permissions)
        await robots.update(
            conn,
            row["id"],
            description=string_field(body, "description", required=False) or row["description"],
            disabled=disabled,
            duration=duration,
            expires_at=_expiry(duration) if duration != row["duration"] else row["expires_at"],
        )
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("update", "robot", ROBOT_PREFIX + row["name"], principal.name, row["project_id"])
    )
    return Response(status_code=200)


@harbor_endpoint
async def refresh_secret(request: Request) -> Response:
    row = await _robot_for(request, manage=True)
    principal = await authenticated(request)
    body = await read_object(request)
    secret = string_field(body, "secret", required=False) or _generate_secret()
    check_password(secret)
    b = backends(request)
    await robots.set_secret(b.db, row["id"], await asyncio.to_thread(hash_password, secret))
    await b.identity.changed()
    await b.audit.record(
        AuditEvent(
            "update",
            "robot",
            ROBOT_PREFIX + row["name"] + ":secret",
            principal.name,
            row["project_id"],
        )
    )
    return json_response({"secret": secret})


@harbor_endpoint
async def delete_robot(request: Request) -> Response:
    row = await _robot_for(request, manage=True)
    principal = await authenticated(request)
    b = backends(request)
    await robots.delete(b.db, row["id"])
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("delete", "robot", ROBOT_PREFIX + row["name"], principal.name, row["project_id"])
    )
    return Response(status_code=200)
