"""Issuing and verifying registry tokens (RS256 JWTs, Docker token spec claims)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from registry.token.keys import KeyRing
from registry.token.scope import Scope

# Clocks of replicas and clients drift a little; more than this is an invalid token.
LEEWAY_SECONDS = 30


class InvalidTokenError(Exception):
    """The token is not one this registry accepts; the message says why (safe to log)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: int


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    issued_at: int
    access: dict[tuple[str, str], frozenset[str]]
    kind: str
    expires_at: int = 0
    # Refresh tokens: the digest of the account's credential when the token was issued.
    credential: str = ""
    # Access tokens: the id of each project the token was granted for, when it was granted
    # (None: a token from before Berth recorded them).
    projects: dict[str, int] | None = None

    def allows(self, resource_type: str, name: str, action: str) -> bool:
        actions = self.access.get((resource_type, name), frozenset())
        return action in actions or "*" in actions


def issue(
    keys: KeyRing,
    *,
    issuer: str,
    audience: str,
    subject: str,
    access: list[Scope],
    ttl_seconds: int,
    kind: str = "access",
    credential: str = "",
    projects: dict[str, int] | None = None,
) -> IssuedToken:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": now + ttl_seconds,
        "nbf": now - 1,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "access": [s.claim() for s in access],
    }
    if kind != "access":
        claims["typ"] = kind
    if credential:
        claims["crd"] = credential
    if projects is not None:
        claims["prj"] = projects
    token = jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})
    return IssuedToken(token, ttl_seconds, now)


def verify(
    keys: KeyRing, token: str, *, issuer: str, audience: str, kind: str = "access"
) -> Claims:
    """Check signature (RS256 only, by ``kid``), issuer, audience, exp/nbf and token kind."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"malformed token: {exc}") from None
    if header.get("alg") != "RS256":
        raise InvalidTokenError("only RS256 tokens are accepted")
    key = keys.public_keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidTokenError("token signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from None
    if claims.get("typ", "access") != kind:
        raise InvalidTokenError(f"not an {kind} token")
    access: dict[tuple[str, str], frozenset[str]] = {}
    for entry in claims.get("access") or []:
        if isinstance(entry, dict):
            key_ = (str(entry.get("type")), str(entry.get("name")))
            access[key_] = access.get(key_, frozenset()) | frozenset(
                str(a) for a in entry.get("actions") or []
            )
    projects = claims.get("prj")
    return Claims(
        str(claims["sub"]),
        int(claims["iat"]),
        access,
        kind,
        int(claims["exp"]),
        credential=str(claims.get("crd") or ""),
        projects=(
            {str(k): int(v) for k, v in projects.items() if isinstance(v, int)}
            if isinstance(projects, dict)
            else None
        ),
    )


class VerifiedTokens:
    """Tokens this process verified already, until they expire: a client sends the same token
    with every request of a push or pull, and checking an RS256 signature each time is work
    with no new answer. Keyed by the whole token, so a tampered one is verified afresh."""

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._claims: dict[str, Claims] = {}

    def verify(self, keys: KeyRing, token: str, *, issuer: str, audience: str) -> Claims:
        found = self._claims.get(token)
        if found is not None and found.expires_at > time.time() + LEEWAY_SECONDS:
            return found
        claims = verify(keys, token, issuer=issuer, audience=audience)
        if len(self._claims) >= self._capacity:
            self._claims.clear()  # simpler than LRU and as good for short-lived tokens
        self._claims[token] = claims
        return claims
