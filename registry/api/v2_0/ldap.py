"""/ldap/ping, /ldap/users/search, /ldap/users/import, /ldap/groups/search."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_json, read_object
from registry.api.v2_0.errors import BadRequest, NotFound, Unavailable
from registry.api.v2_0.security import backends, sysadmin
from registry.auth import ldap
from registry.auth.base import AuthBackendError
from registry.services import user
from registry.services.identity import ldap_config


async def _config(request: Request, overrides: dict[str, Any] | None = None) -> ldap.LdapConfig:
    stored = await backends(request).config.get(fresh=True)
    merged = {**stored, **(overrides or {})}
    if overrides and not overrides.get("ldap_search_password"):
        # The portal never sees the stored secret, so a test of edited settings reuses it.
        merged["ldap_search_password"] = stored["ldap_search_password"]
    try:
        return ldap_config(merged)
    except ValidationError as exc:
        raise BadRequest(f"invalid LDAP settings: {exc.errors()[0]['msg']}") from None


@harbor_endpoint
async def ping(request: Request) -> Response:
    await sysadmin(request)
    raw = (
        await read_json(request) if request.headers.get("content-length") not in (None, "0") else {}
    )
    if not isinstance(raw, dict):
        raise BadRequest("the request body must be a JSON object")
    config = await _config(request, {k: v for k, v in raw.items() if k.startswith("ldap_")})
    try:
        await ldap.ping(config)
    except AuthBackendError as exc:
        return json_response({"success": False, "message": str(exc)})
    return json_response({"success": True, "message": "connected"})


def _user_json(identity: Any) -> dict[str, Any]:
    return {
        "username": identity.username,
        "realname": identity.realname or "",
        "email": identity.email or "",
    }


@harbor_endpoint
async def search_users(request: Request) -> Response:
    await sysadmin(request)
    try:
        found = await ldap.search_users(
            await _config(request), request.query_params.get("username")
        )
    except AuthBackendError as exc:
        raise Unavailable(str(exc)) from None
    return json_response([_user_json(i) for i in found])


@harbor_endpoint
async def import_users(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    uids = body.get("ldap_uid_list")
    if not isinstance(uids, list) or not all(isinstance(u, str) for u in uids):
        raise BadRequest("ldap_uid_list must be a list of user ids")
    b = backends(request)
    config = await _config(request)
    missing = []
    for uid in uids:
        try:
            identity = await ldap.find_user(config, uid)
        except AuthBackendError as exc:
            raise Unavailable(str(exc)) from None
        if identity is None:
            missing.append({"uid": uid, "error": "not found"})
            continue
        await user.import_from_directory(b, principal, identity)
    if missing:
        raise NotFound(f"not found in LDAP: {', '.join(m['uid'] for m in missing)}")
    return Response(status_code=200)


@harbor_endpoint
async def search_groups(request: Request) -> Response:
    await sysadmin(request)
    try:
        found = await ldap.search_groups(
            await _config(request),
            name=request.query_params.get("groupname") or None,
            dn=request.query_params.get("groupdn") or None,
        )
    except AuthBackendError as exc:
        raise Unavailable(str(exc)) from None
    body = [{"group_name": g.name, "ldap_group_dn": g.dn, "group_type": 1} for g in found]
    return json_response(body)
