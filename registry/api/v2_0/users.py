"""/users: accounts, the current user, passwords and the sysadmin flag."""

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
from registry.api.v2_0.security import authenticated, backends, principal_of, sysadmin
from registry.auth.principal import Principal
from registry.query import Match, Term
from registry.services import oidc, user


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "user_id": row["id"],
        "username": row["username"],
        "email": row["email"] or "",
        "realname": row["realname"],
        "comment": row["comment"],
        "sysadmin_flag": row["sysadmin"],
        "admin_role_in_auth": False,
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


async def _self_or_admin(request: Request) -> tuple[Principal, int]:
    principal = await authenticated(request)
    user_id = int_path(request, "user_id")
    user.require_self_or_admin(principal, user_id)
    return principal, user_id


@harbor_endpoint
async def create_user(request: Request) -> Response:
    principal = await principal_of(request)
    b = backends(request)
    await user.check_may_create(b, principal)
    body = await read_object(request)
    username = string_field(body, "username")
    password = string_field(body, "password")
    assert username is not None
    assert password is not None
    user_id = await user.create_user(
        b,
        principal,
        username,
        password,
        email=string_field(body, "email", required=False) or None,
        realname=string_field(body, "realname", required=False) or "",
        comment=string_field(body, "comment", required=False) or "",
    )
    return created(f"/api/v2.0/users/{user_id}")


@harbor_endpoint
async def list_users(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request).without_sort()
    username = request.query_params.get("username")
    if username and "username" not in query.filters:
        query = query.with_filter("username", Term(Match.CONTAINS, (username,)))
    rows, total = await user.list_users(backends(request), query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def search_users(request: Request) -> Response:
    await authenticated(request)
    query = list_query(request, filters=None).without_sort()
    username = request.query_params.get("username")
    if not username:
        raise BadRequest("username is required")
    query = query.with_filter("username", Term(Match.CONTAINS, (username,)))
    rows, total = await user.list_users(backends(request), query)
    body = [{"user_id": r["id"], "username": r["username"]} for r in rows]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def current_user(request: Request) -> Response:
    principal = await authenticated(request)
    b = backends(request)
    body = _to_json(await user.current_user(b, principal))
    linked = await oidc.cli_secret_of(b, principal.user_id) if principal.user_id else None
    if linked is not None:
        # Harbor shows an OIDC user their CLI secret here.
        body["oidc_user_meta"] = {
            "id": linked.user_id,
            "user_id": linked.user_id,
            "subiss": linked.subject,
            "secret": linked.secret,
            "creation_time": linked.created_at,
            "update_time": linked.updated_at,
        }
    return json_response(body)


@harbor_endpoint
async def get_user(request: Request) -> Response:
    principal, user_id = await _self_or_admin(request)
    return json_response(_to_json(await user.get_user(backends(request), principal, user_id)))


@harbor_endpoint
async def update_user(request: Request) -> Response:
    principal, user_id = await _self_or_admin(request)
    body = await read_object(request)
    await user.update_profile(
        backends(request),
        principal,
        user_id,
        email=string_field(body, "email", required=False),
        realname=string_field(body, "realname", required=False),
        comment=string_field(body, "comment", required=False),
    )
    return Response(status_code=200)


@harbor_endpoint
async def change_password(request: Request) -> Response:
    principal, user_id = await _self_or_admin(request)
    body = await read_object(request)
    new_password = string_field(body, "new_password")
    assert new_password is not None
    # Only users changing their own password must prove the old one.
    old = string_field(body, "old_password") if principal.user_id == user_id else None
    await user.change_password(backends(request), principal, user_id, new_password, old)
    return Response(status_code=200)


@harbor_endpoint
async def set_sysadmin(request: Request) -> Response:
    principal = await sysadmin(request)
    user_id = int_path(request, "user_id")
    body = await read_object(request)
    flag = body.get("sysadmin_flag")
    if not isinstance(flag, bool):
        raise BadRequest("sysadmin_flag must be a boolean")
    await user.set_sysadmin(backends(request), principal, user_id, flag)
    return Response(status_code=200)


@harbor_endpoint
async def delete_user(request: Request) -> Response:
    principal = await sysadmin(request)
    await user.delete_user(backends(request), principal, int_path(request, "user_id"))
    return Response(status_code=200)
