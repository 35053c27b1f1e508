"""/robots: Harbor's v2 robot accounts, system or project level, with explicit permissions."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import (
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import authenticated, backends
from registry.services import robot
from registry.services.identity import ROBOT_PREFIX


def _names_only(request: Request) -> bool:
    return request.headers.get("x-is-resource-name", "").lower() == "true"


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
    duration = body.get("duration", -1)
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise BadRequest("duration must be an integer")
    disabled = body.get("disable", False)
    if not isinstance(disabled, bool):
        raise BadRequest("disable must be a boolean")
    level = body.get("level", "system")
    spec = robot.RobotSpec(
        name=name,
        description=string_field(body, "description", required=False) or "",
        level=level if isinstance(level, str) else "",
        duration=duration,
        disabled=disabled,
        permissions=body.get("permissions", []),
        secret=string_field(body, "secret", required=False) or None,
    )
    made = await robot.create_robot(
        backends(request), principal, spec, by_name=_names_only(request)
    )
    return json_response(
        {
            "id": made.id,
            "name": made.full_name,
            "secret": made.secret,
            "creation_time": made.created_at,
            "expires_at": int(made.expires_at.timestamp()) if made.expires_at else -1,
        },
        status=201,
        headers={"Location": f"/api/v2.0/robots/{made.id}"},
    )


@harbor_endpoint
async def list_robots(request: Request) -> Response:
    principal = await authenticated(request)
    query = list_query(request)
    b = backends(request)
    rows, total = await robot.list_robots(b, principal, query)
    perms = await robot.permissions_of(b, [r["id"] for r in rows])
    body = [_to_json(r, perms[r["id"]]) for r in rows]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def get_robot(request: Request) -> Response:
    principal = await authenticated(request)
    b = backends(request)
    row = await robot.robot_for(b, principal, int_path(request, "robot_id"), manage=False)
    perms = await robot.permissions_of(b, [row["id"]])
    return json_response(_to_json(row, perms[row["id"]]))


@harbor_endpoint
async def update_robot(request: Request) -> Response:
    principal = await authenticated(request)
    b = backends(request)
    robot_id = int_path(request, "robot_id")
    await robot.robot_for(b, principal, robot_id, manage=True)
    body = await read_object(request)
    duration = body.get("duration")
    disabled = body.get("disable")
    if (duration is not None and not isinstance(duration, int)) or (
        disabled is not None and not isinstance(disabled, bool)
    ):
        raise BadRequest("duration is an integer and disable a boolean")
    if "permissions" in body and body["permissions"] is None:
        raise BadRequest("permissions must be a list")
    await robot.update_robot(
        b,
        principal,
        robot_id,
        description=string_field(body, "description", required=False),
        disabled=disabled,
        duration=duration,
        permissions=body.get("permissions"),
        by_name=_names_only(request),
    )
    return Response(status_code=200)


@harbor_endpoint
async def refresh_secret(request: Request) -> Response:
    principal = await authenticated(request)
    b = backends(request)
    robot_id = int_path(request, "robot_id")
    await robot.robot_for(b, principal, robot_id, manage=True)
    body = await read_object(request)
    secret = string_field(body, "secret", required=False) or None
    return json_response({"secret": await robot.refresh_secret(b, principal, robot_id, secret)})


@harbor_endpoint
async def delete_robot(request: Request) -> Response:
    principal = await authenticated(request)
    await robot.delete_robot(backends(request), principal, int_path(request, "robot_id"))
    return Response(status_code=200)
