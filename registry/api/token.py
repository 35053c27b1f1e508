"""``/service/token``: the Docker registry token endpoint (GET) and its OAuth2 form (POST)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.auth.basic import parse_basic
from registry.auth.principal import ANONYMOUS, Principal
from registry.metrics.instruments import count_token
from registry.services import login, proxy_mirror
from registry.services import token as token_service
from registry.services.context import Backends
from registry.services.errors import BackendUnavailable
from registry.token import jwt
from registry.token.scope import InvalidScopeError, Scope, parse_scopes

_MAX_FORM_BYTES = 16 * 1024


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"code": code, "message": message}]}
    return Response(json.dumps(body), status, media_type="application/json", headers=headers)


def _oauth_error(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(json.dumps(body), status, media_type="application/json")


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


# The Distribution error code of each login refusal.
_REFUSAL_CODES = {
    login.WRONG_CREDENTIALS: "UNAUTHORIZED",
    login.THROTTLED: "TOOMANYREQUESTS",
    login.UNAVAILABLE: "UNAVAILABLE",
}


async def _login(b: Backends, username: str, password: str) -> Principal:
    try:
        return await login.log_in(b, username, password)
    except login.LoginRefused as refused:
        count_token(issued=False)
        challenge = refused.status == login.WRONG_CREDENTIALS
        headers = {"WWW-Authenticate": 'Basic realm="Berth"'} if challenge else None
        code = _REFUSAL_CODES[refused.status]
        raise _Refused(_error(refused.status, code, refused.message, headers)) from None


async def _answer(
    b: Backends, principal: Principal, scopes: list[Scope], *, with_refresh: bool, oauth: bool
) -> Response:
    config = await b.config.get()
    ttl = int(config["token_expiration"]) * 60
    scopes = await proxy_mirror.mirrored_scopes(b, scopes)
    grant = await token_service.grant(b.db, principal, scopes)
    granted = grant.scopes
    settings = b.settings.token
    issued = jwt.issue(
        b.keys,
        issuer=settings.issuer,
        audience=settings.service,
        subject=principal.username or "",
        access=granted,
        ttl_seconds=ttl,
        projects=grant.projects,
    )
    body: dict[str, Any] = {
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": datetime.fromtimestamp(issued.issued_at, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    }
    if oauth:
        body["token_type"] = "Bearer"  # noqa: S105 — the OAuth2 token type, not a secret
        body["scope"] = " ".join(s.challenge() for s in granted if s.actions)
    if with_refresh and not principal.anonymous:
        body["refresh_token"] = jwt.issue(
            b.keys,
            issuer=settings.issuer,
            audience=settings.service,
            subject=principal.username or "",
            access=[],
            ttl_seconds=settings.refresh_ttl_seconds,
            kind="refresh",
            credential=await b.identity.refresh_stamp(principal),
        ).token
    count_token(issued=True)
    return Response(
        json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


async def get_token(request: Request) -> Response:
    b: Backends = request.state.backends
    if request.query_params.get("service") != b.settings.token.service:
        return _error(400, "BAD_REQUEST", "unknown or missing service")
    try:
        scopes = parse_scopes(request.query_params.getlist("scope"))
    except InvalidScopeError as exc:
        return _error(400, "BAD_REQUEST", str(exc))
    header = request.headers.get("authorization")
    credentials = parse_basic(header)
    try:
        if header and credentials is None:
            return _error(401, "UNAUTHORIZED", "only Basic credentials are accepted here")
        if credentials is None or credentials == ("", ""):
            principal = ANONYMOUS
        else:
            principal = await _login(b, *credentials)
    except _Refused as refused:
        return refused.response
    offline = request.query_params.get("offline_token", "").lower() == "true"
    return await _answer(b, principal, scopes, with_refresh=offline, oauth=False)


async def post_token(request: Request) -> Response:
    b: Backends = request.state.backends
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return _oauth_error(413, "invalid_request", "request body too large")
    try:
        values = {k: v[-1] for k, v in parse_qs(body.decode(), max_num_fields=64).items()}
    except (UnicodeDecodeError, ValueError):
        return _oauth_error(400, "invalid_request", "malformed form body")
    if values.get("service") != b.settings.token.service:
        return _oauth_error(400, "invalid_request", "unknown or missing service")
    try:
        scopes = parse_scopes([values.get("scope", "")])
    except InvalidScopeError as exc:
        return _oauth_error(400, "invalid_scope", str(exc))
    grant_type = values.get("grant_type")
    try:
        if grant_type == "password":
            principal = await _login(b, values.get("username", ""), values.get("password", ""))
        elif grant_type == "refresh_token":
            principal = await _from_refresh_token(b, values.get("refresh_token", ""))
        else:
            return _oauth_error(
                400, "unsupported_grant_type", "grant_type must be password or refresh_token"
            )
    except _Refused as refused:
        if refused.response.status_code == 401:
            return _oauth_error(401, "invalid_grant", "invalid credentials")
        return refused.response
    offline = values.get("access_type") == "offline" or grant_type == "refresh_token"
    return await _answer(b, principal, scopes, with_refresh=offline, oauth=True)


async def _from_refresh_token(b: Backends, token: str) -> Principal:
    settings = b.settings.token
    try:
        claims = jwt.verify(
            b.keys, token, issuer=settings.issuer, audience=settings.service, kind="refresh"
        )
    except jwt.InvalidTokenError:
        raise _Refused(_oauth_error(401, "invalid_grant", "invalid refresh token")) from None
    try:
        principal = await b.identity.principal_for_refresh(claims.subject, claims.credential)
    except BackendUnavailable:
        raise _Refused(_error(503, "UNAVAILABLE", "the identity backend is unavailable")) from None
    if principal is None:
        raise _Refused(_oauth_error(401, "invalid_grant", "the account can no longer log in"))
    return principal


async def jwks(request: Request) -> Response:
    b: Backends = request.state.backends
    return Response(json.dumps(b.keys.jwks()), media_type="application/json")


routes = [
    Route("/service/token", get_token, methods=["GET"]),
    Route("/service/token", post_token, methods=["POST"]),
    Route("/service/token/jwks", jwks, methods=["GET"]),
]
