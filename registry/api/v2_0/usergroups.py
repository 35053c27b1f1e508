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
from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import authenticated, backends, sysadmin
from registry.query import ListQuery, Match, Term
from registry.services import usergroup


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "group_name": row["group_name"],
        "group_type": row["group_type"],
        "ldap_group_dn": row["ldap_group_dn"] or "",
    }


def _name_filter(query: ListQuery, name: str | None) -> ListQuery:
    return query.with_filter("group_name", Term(Match.CONTAINS, (name,))) if name else query


@harbor_endpoint
async def list_groups(request: Request) -> Response:
    await sysadmin(request)
    query = _name_filter(list_query(request, filters=None), request.query_params.get("group_name"))
    rows, total = await usergroup.list_groups(backends(request), query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def search_groups(request: Request) -> Response:
    await authenticated(request)
    name = request.query_params.get("groupname")
    if not name:
        raise BadRequest("groupname is required")
    query = _name_filter(list_query(request, filters=None), name)
    rows, total = await usergroup.list_groups(backends(request), query)
    body = [
        {"id": r["id"], "group_name": r["group_name"], "group_type": r["group_type"]} for r in rows
    ]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def create_group(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    name = string_field(body, "group_name")
    assert name is not None
    group_id = await usergroup.create_group(
        backends(request),
        principal,
        name,
        body.get("group_type", usergroup.LDAP),
        string_field(body, "ldap_group_dn", required=False) or None,
    )
    return created(f"/api/v2.0/usergroups/{group_id}")


@harbor_endpoint
async def get_group(request: Request) -> Response:
    await sysadmin(request)
    row = await usergroup.get_group(backends(request), int_path(request, "group_id"))
    return json_response(_to_json(row))


@harbor_endpoint
async def update_group(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    name = string_field(body, "group_name")
    assert name is not None
    await usergroup.rename_group(backends(request), principal, int_path(request, "group_id"), name)
    return Response(status_code=200)


@harbor_endpoint
async def delete_group(request: Request) -> Response:
    principal = await sysadmin(request)
    await usergroup.delete_group(backends(request), principal, int_path(request, "group_id"))
    return Response(status_code=200)
