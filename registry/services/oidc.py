"""Signing in through an OpenID Connect provider (``auth_mode: oidc_auth``), as Harbor does:
the authorization-code flow with PKCE for the browser, and a CLI secret per user for the
registry clients (docker, podman, skopeo, helm), which cannot follow a browser flow.

The flow: ``start_login`` sends the browser to the provider's authorization endpoint with a
fresh ``state``, ``nonce`` and PKCE challenge, kept in Redis for ``STATE_TTL_SECONDS`` and
bound to the browser by a cookie. ``finish_login`` takes the code back (once: the state is
consumed), redeems it with the PKCE verifier and the client secret, verifies the ID token
(signature against the provider's JWKS, issuer, audience, expiry, nonce) and signs the user
in, onboarding them at the first login when ``oidc_auto_onboard`` allows it. The groups the
ID token names (``oidc_groups_claim``) become OIDC user groups (made on first sight) and the
user's memberships, so a group's project roles apply to its users everywhere, the CLI secret
included, until a later login says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from registry.auth.password import hash_password
from registry.auth.principal import Principal
from registry.db import groups as groups_db
from registry.db import oidc_users, users
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    BackendUnavailable,
    InvalidRequest,
    NotPermitted,
    ResourceUnknown,
)
from registry.services.user import check_password
from registry.services.usergroup import OIDC

log = logging.getLogger(__name__)

STATE_TTL_SECONDS = 600
HTTP_TIMEOUT_SECONDS = 10.0
CLI_SECRET_PURPOSE = "oidc:cli_secret"  # noqa: S105 — a purpose label, not a secret
_STATE_KEY = "berth:oidc:state:"
_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"]


class LoginFailed(NotPermitted):
    """The provider did not vouch for anyone (a refused, replayed or forged callback)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _config(b: Backends) -> dict[str, Any]:
    config = await b.config.get()
    if config["auth_mode"] != "oidc_auth":
        raise InvalidRequest("the auth mode is not oidc_auth")
    if not config["oidc_endpoint"] or not config["oidc_client_id"]:
        raise InvalidRequest("oidc_endpoint and oidc_client_id must be configured")
    return config


def _client(config: dict[str, Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, verify=bool(config["oidc_verify_cert"]))


async def _get_json(config: dict[str, Any], url: str) -> dict[str, Any]:
    try:
        async with _client(config) as client:
            r = await client.get(url)
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"the OIDC provider is unreachable: {exc}") from None
    if r.status_code != 200:
        raise BackendUnavailable(f"the OIDC provider answered {r.status_code} for {url}")
    found: dict[str, Any] = r.json()
    return found


async def discovery(config: dict[str, Any]) -> dict[str, Any]:
    base = str(config["oidc_endpoint"]).rstrip("/")
    return await _get_json(config, f"{base}/.well-known/openid-configuration")


@dataclass(frozen=True, slots=True)
class LoginStart:
    authorize_url: str
    # Goes into a cookie: only the browser that started the login may finish it.
    browser_token: str


async def start_login(b: Backends, callback_url: str, redirect_to: str = "/") -> LoginStart:
    config = await _config(b)
    provider = await discovery(config)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    browser = secrets.token_urlsafe(24)
    record = {
        "verifier": verifier,
        "nonce": nonce,
        "browser": _digest(browser),
        "redirect": redirect_to if redirect_to.startswith("/") else "/",
    }
    await b.redis.set(_STATE_KEY + state, json.dumps(record), ex=STATE_TTL_SECONDS)
    scope = " ".join(s.strip() for s in str(config["oidc_scope"]).split(",") if s.strip())
    params = {
        "response_type": "code",
        "client_id": config["oidc_client_id"],
        "redirect_uri": callback_url,
        "scope": scope if "openid" in scope.split() else f"openid {scope}".strip(),
        "state": state,
        "nonce": nonce,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    }
    extra = str(config["oidc_extra_redirect_parms"] or "")
    if extra:
        try:
            params.update({str(k): str(v) for k, v in json.loads(extra).items()})
        except (ValueError, AttributeError):
            log.warning("oidc_extra_redirect_parms is not a JSON object; ignored")
    return LoginStart(f"{provider['authorization_endpoint']}?{urlencode(params)}", browser)


@dataclass(frozen=True, slots=True)
class LoginDone:
    principal: Principal
    redirect_to: str


async def _redeem(
    config: dict[str, Any], provider: dict[str, Any], code: str, callback: str, verifier: str
) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback,
        "code_verifier": verifier,
    }
    try:
        async with _client(config) as client:
            r = await client.post(
                provider["token_endpoint"],
                data=form,
                auth=(str(config["oidc_client_id"]), str(config["oidc_client_secret"])),
            )
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"the OIDC provider is unreachable: {exc}") from None
    if r.status_code != 200:
        raise LoginFailed(f"the OIDC provider refused the code ({r.status_code})")
    tokens: dict[str, Any] = r.json()
    return tokens


async def _verified_claims(
    config: dict[str, Any], provider: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(await _get_json(config, provider["jwks_uri"]))
    try:
        kid = jwt.get_unverified_header(id_token).get("kid")
        candidates = [k for k in keys.keys if kid is None or k.key_id == kid]
        if not candidates:
            raise LoginFailed("the ID token is signed with a key the provider does not list")
        claims: dict[str, Any] = jwt.decode(
            id_token,
            candidates[0],
            algorithms=_ALGORITHMS,
            audience=str(config["oidc_client_id"]),
            issuer=provider["issuer"],
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise LoginFailed(f"the ID token is not valid: {exc}") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise LoginFailed("the ID token was not issued for this login")
    return claims


def _username(config: dict[str, Any], claims: dict[str, Any]) -> str:
    for claim in (config["oidc_user_claim"], "preferred_username", "name", "sub"):
        value = claims.get(claim) if claim else None
        if isinstance(value, str) and value:
            return value
    raise LoginFailed("the ID token names no user")


async def finish_login(
    b: Backends, callback_url: str, code: str, state: str, browser_token: str
) -> LoginDone:
    config = await _config(b)
    key = _STATE_KEY + state
    raw = await b.redis.get(key) if state else None
    # Consumed once: of two callbacks with the same state only the one that deletes it goes on.
    if raw is None or await b.redis.delete(key) != 1:
        raise LoginFailed("unknown or expired login state")
    record = json.loads(raw)
    if not hmac.compare_digest(record["browser"], _digest(browser_token)):
        raise LoginFailed("the login was started by another browser")
    provider = await discovery(config)
    tokens = await _redeem(config, provider, code, callback_url, record["verifier"])
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise LoginFailed("the OIDC provider gave no ID token")
    claims = await _verified_claims(config, provider, id_token, record["nonce"])
    principal = await _sign_in(b, config, claims)
    await b.audit.record(AuditEvent("login", "user", principal.name, principal.name))
    return LoginDone(principal, record["redirect"])


async def _sign_in(b: Backends, config: dict[str, Any], claims: dict[str, Any]) -> Principal:
    subject = f"{claims['iss']}|{claims['sub']}"
    username = _username(config, claims)
    groups_claim = str(config["oidc_groups_claim"] or "")
    groups = claims.get(groups_claim, []) if groups_claim else []
    groups = [str(g) for g in groups] if isinstance(groups, list) else []
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    async with b.db.acquire() as conn, conn.transaction():
        user_id = await oidc_users.user_for_subject(conn, subject)
        if user_id is None:
            if not config["oidc_auto_onboard"]:
                raise NotPermitted(f"{username} has not been onboarded (oidc_auto_onboard is off)")
            if await users.get_by_username(conn, username) is not None:
                # Never take over an account that another backend (or subject) owns.
                raise LoginFailed(f"a user named {username} exists already")
            row = await users.onboard_external(
                conn,
                username,
                email=email,
                realname=username,
                source="oidc",
                external_id=subject,
            )
            user_id = int(row["id"])
            await oidc_users.link(conn, user_id, subject)
        admin_group = str(config["oidc_admin_group"] or "")
        if admin_group:
            await users.set_sysadmin(conn, user_id, admin_group in groups)
        # As Harbor: the claim's groups become OIDC user groups, and the user's memberships
        # are what the provider said at this login (a group it no longer names is left).
        group_ids = await groups_db.ensure_named(conn, OIDC, groups)
        await users.set_groups(conn, user_id, group_ids)
    await b.identity.changed()
    principal = await b.identity.principal_for_user(user_id)
    if principal is None:
        raise ResourceUnknown("the user was deleted while signing in")
    return principal


@dataclass(frozen=True, slots=True)
class CliSecret:
    user_id: int
    subject: str
    secret: str
    created_at: datetime
    updated_at: datetime


async def cli_secret_of(b: Backends, user_id: int) -> CliSecret | None:
    row = await oidc_users.get(b.db, user_id)
    if row is None:
        return None
    sealed = row["secret_sealed"]
    secret = b.secrets.reveal(sealed, CLI_SECRET_PURPOSE) if sealed else ""
    return CliSecret(user_id, row["subject"], secret, row["created_at"], row["updated_at"])


async def set_cli_secret(b: Backends, actor: Principal, user_id: int, secret: object) -> None:
    """Give the user (the actor themselves, or anyone for a system administrator) a new CLI
    secret; the old one stops working at once."""
    await _config(b)
    if actor.user_id != user_id and not actor.sysadmin:
        raise NotPermitted("only the user may change their CLI secret")
    if not isinstance(secret, str):
        raise InvalidRequest("secret is required")
    check_password(secret)
    sealed = b.secrets.seal(secret, CLI_SECRET_PURPOSE)
    if not await oidc_users.set_secret(b.db, user_id, hash_password(secret), sealed):
        raise ResourceUnknown("the user does not sign in through OIDC")
    await b.identity.changed()
    await b.audit.record(AuditEvent("update", "user", f"{user_id}:cli_secret", actor.name))
