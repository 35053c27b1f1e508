"""/usergroups: LDAP groups known to Berth, usable as project members."""

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
    string_field,
)
from registry.api.v2_0.errors import BadRequest, Conflict, NotFound
from registry.api.v2_0.listing import list_headers, page_of
from registry.api.v2_0.security import authenticated, backends, sysadmin
from registry.db import groups, members
from registry.services.audit import AuditEvent


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "group_name": row["group_name"],
        "group_type": row["group_type"],
        "ldap_group_dn": row["ldap_group_dn"] or "",
    }


@harbor_endpoint
async def list_groups(request: Request) -> Response:
    await sysadmin(request)
    page = page_of(request)
    rows, total = await groups.search(
        backends(request).db,
        request.query_params.get("group_name") or None,
        page.page_size,
        page.offset,
    )
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def search_groups(request: Request) -> Response:
    await authenticated(request)
    page = page_of(request)
    name = request.query_params.get("groupname")
    if not name:
        raise BadRequest("groupname is required")
    rows, total = await groups.search(backends(request).db, name, page.page_size, page.offset)
    body = [
        {"id": r["id"], "group_name": r["group_name"], "group_type": r["group_type"]} for r in rows
    ]
    return json_response(body, headers=list_headers(request, page, total))


@harbor_endpoint
async def create_group(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    name = string_field(body, "group_name")
    dn = string_field(body, "ldap_group_dn", required=False) or None
    group_type = body.get("group_type", 1)
    if group_type not in (1, 2, 3):
        raise BadRequest("group_type is 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
    if group_type == 1 and not dn:
        raise BadRequest("an LDAP group needs ldap_group_dn")
    assert name is not None
    b = backends(request)
    group_id = await groups.create(b.db, name, group_type, dn)
    if group_id is None:
        raise Conflict("the group already exists")
    await b.identity.changed()
    await b.audit.record(AuditEvent("create", "usergroup", dn or name, principal.name))
    return created(f"/api/v2.0/usergroups/{group_id}")


@harbor_endpoint
async def get_group(request: Request) -> Response:
    await sysadmin(request)
    row = await groups.get(backends(request).db, int_path(request, "group_id"))
    if row is None:
        raise NotFound("group not found")
    return json_response(_to_json(row))


@harbor_endpoint
async def update_group(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    name = string_field(body, "group_name")
    assert name is not None
    b = backends(request)
    group_id = int_path(request, "group_id")
    try:
        renamed = await groups.rename(b.db, group_id, name)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"a group named {name} already exists") from None
    if not renamed:
        raise NotFound("group not found")
    await b.audit.record(AuditEvent("update", "usergroup", str(group_id), principal.name))
    return Response(status_code=200)


@harbor_endpoint
async def delete_group(request: Request) -> Response:
    principal = await sysadmin(request)
    b = backends(request)
    group_id = int_path(request, "group_id")
    async with b.db.acquire() as conn, conn.transaction():
        await members.remove_entity(conn, "g", group_id)
        if not await groups.delete(conn, group_id):
            raise NotFound("group not found")
    await b.identity.changed()
    await b.audit.record(AuditEvent("delete", "usergroup", str(group_id), principal.name))
    return Response(status_code=200)
