"""/users: accounts, the current user, passwords and the sysadmin flag."""

from __future__ import annotations

import asyncio
import re
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
from registry.api.v2_0.errors import BadRequest, Conflict, Forbidden, NotFound
from registry.api.v2_0.listing import list_headers, page_of, parse_query
from registry.api.v2_0.security import authenticated, backends, principal_of, sysadmin
from registry.auth.password import hash_password, verify_password
from registry.auth.principal import Principal
from registry.db import members, users
from registry.services.audit import AuditEvent

_USERNAME = re.compile(r"[^\s,~#$%:/\\\"'<>]{1,255}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def check_password(password: str) -> None:
    """Harbor's rule: 8 to 128 characters with an upper-case letter, a lower-case letter and
    a digit."""
    if not (
        8 <= len(password) <= 128
        and re.search(r"[A-Z]", password)
        and re.search(r"[a-z]", password)
        and re.search(r"[0-9]", password)
    ):
        raise BadRequest(
            "the password needs 8 to 128 characters with upper- and lower-case letters and a digit"
        )


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
    if not principal.sysadmin and principal.user_id != user_id:
        raise Forbidden("you may only see and change your own account")
    return principal, user_id


@harbor_endpoint
async def create_user(request: Request) -> Response:
    b = backends(request)
    config = await b.config.get()
    principal = await principal_of(request)
    if config["auth_mode"] != "db_auth":
        raise Forbidden("users come from LDAP in this auth mode")
    if not principal.sysadmin and not (principal.anonymous and config["self_registration"]):
        raise Forbidden("only system administrators may create users")
    body = await read_object(request)
    username = string_field(body, "username")
    password = string_field(body, "password")
    email = string_field(body, "email", required=False) or None
    assert username is not None
    assert password is not None
    if not _USERNAME.fullmatch(username) or username.startswith("robot$"):
        raise BadRequest("invalid username")
    if email is not None and not _EMAIL.fullmatch(email):
        raise BadRequest("invalid email")
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        user_id = await users.create(
            b.db,
            username,
            password_hash,
            email=email,
            realname=string_field(body, "realname", required=False) or "",
            comment=string_field(body, "comment", required=False) or "",
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("username or email already in use") from None
    await b.audit.record(AuditEvent("create", "user", username, principal.name))
    return created(f"/api/v2.0/users/{user_id}")


@harbor_endpoint
async def list_users(request: Request) -> Response:
    await sysadmin(request)
    page = page_of(request)
    query = parse_query(request.query_params.get("q"))
    username = request.query_params.get("username")
    exact = False
    if "username" in query:
        term = query["username"]
        username, exact = term.values[0], term.kind == "exact"
    rows, total = await users.search(
        backends(request).db, username, exact, page.page_size, page.offset
    )
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def search_users(request: Request) -> Response:
    await authenticated(request)
    page = page_of(request)
    username = request.query_params.get("username")
    if not username:
        raise BadRequest("username is required")
    rows, total = await users.search(
        backends(request).db, username, False, page.page_size, page.offset
    )
    body = [{"user_id": r["id"], "username": r["username"]} for r in rows]
    return json_response(body, headers=list_headers(request, page, total))


@harbor_endpoint
async def current_user(request: Request) -> Response:
    principal = await authenticated(request)
    if principal.user_id is None:
        raise NotFound("robot accounts have no user record")
    row = await users.get(backends(request).db, principal.user_id)
    if row is None:
        raise NotFound("user not found")
    return json_response(_to_json(row))


@harbor_endpoint
async def get_user(request: Request) -> Response:
    _, user_id = await _self_or_admin(request)
    row = await users.get(backends(request).db, user_id)
    if row is None:
        raise NotFound("user not found")
    return json_response(_to_json(row))


@harbor_endpoint
async def update_user(request: Request) -> Response:
    principal, user_id = await _self_or_admin(request)
    body = await read_object(request)
    email = string_field(body, "email", required=False)
    if email and not _EMAIL.fullmatch(email):
        raise BadRequest("invalid email")
    b = backends(request)
    if await users.get(b.db, user_id) is None:
        raise NotFound("user not found")
    try:
        await users.update_profile(
            b.db,
            user_id,
            email or None,
            string_field(body, "realname", required=False),
            string_field(body, "comment", required=False),
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("email already in use") from None
    await b.audit.record(AuditEvent("update", "user", str(user_id), principal.name))
    return Response(status_code=200)


@harbor_endpoint
async def change_password(request: Request) -> Response:
    principal, user_id = await _self_or_admin(request)
    body = await read_object(request)
    new_password = string_field(body, "new_password")
    assert new_password is not None
    b = backends(request)
    row = await users.get(b.db, user_id)
    if row is None:
        raise NotFound("user not found")
    if row["source"] != "db":
        raise Forbidden("the password of an LDAP user is changed in the directory")
    if principal.user_id == user_id:
        old = string_field(body, "old_password")
        assert old is not None
        if not await asyncio.to_thread(verify_password, old, row["password_hash"]):
            raise BadRequest("the old password is wrong")
    check_password(new_password)
    await users.set_password(b.db, user_id, await asyncio.to_thread(hash_password, new_password))
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("update", "user", f"{row['username']}:password", principal.name)
    )
    return Response(status_code=200)


@harbor_endpoint
async def set_sysadmin(request: Request) -> Response:
    principal = await sysadmin(request)
    user_id = int_path(request, "user_id")
    body = await read_object(request)
    flag = body.get("sysadmin_flag")
    if not isinstance(flag, bool):
        raise BadRequest("sysadmin_flag must be a boolean")
    b = backends(request)
    row = await users.get(b.db, user_id)
    if row is None:
        raise NotFound("user not found")
    if row["username"] == "admin" and not flag:
        raise Forbidden("the admin account stays a system administrator")
    await users.set_sysadmin(b.db, user_id, flag)
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("update", "user", f"{row['username']}:sysadmin", principal.name)
    )
    return Response(status_code=200)


@harbor_endpoint
async def delete_user(request: Request) -> Response:
    principal = await sysadmin(request)
    user_id = int_path(request, "user_id")
    b = backends(request)
    row = await users.get(b.db, user_id)
    if row is None:
        raise NotFound("user not found")
    if row["username"] == "admin" or principal.user_id == user_id:
        raise Forbidden("the admin account and your own account cannot be deleted")
    async with b.db.acquire() as conn, conn.transaction():
        await members.remove_entity(conn, "u", user_id)
        await users.delete(conn, user_id)
    await b.identity.changed()
    await b.audit.record(AuditEvent("delete", "user", row["username"], principal.name))
    return Response(status_code=200)
