"""Browser sessions (the portal's ``sid`` cookie), kept in Redis.

The cookie carries a random 256-bit id; Redis holds only its SHA-256
(``berth:session:<hex>``), so reading Redis does not hand out live sessions. A session ends
after 30 idle minutes (every authenticated use restarts the clock) and in any case 8 hours
after login. Each session has its own CSRF token, which unsafe requests must echo in
``X-Harbor-CSRF-Token``.

The session records who logged in, not what they may do: every load re-resolves the account,
so a deleted user, a disabled or expired robot, or a name reused by a new account loses it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from registry.auth.principal import Principal, PrincipalKind

COOKIE = "sid"
CSRF_HEADER = "X-Harbor-CSRF-Token"
IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 3600

_KEY_PREFIX = "berth:session:"
# token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
_MAX_ID_LENGTH = 128


class PrincipalResolver(Protocol):
    """What the identity service offers to turn a stored name back into a principal."""

    async def principal_by_name(self, name: str) -> Principal | None: ...


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str
    created: float


def _key(session_id: str) -> str:
    return _KEY_PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


def _plausible(session_id: str | None) -> str | None:
    """The cookie value when it could be a session id at all."""
    return session_id if session_id and len(session_id) <= _MAX_ID_LENGTH else None


async def create(redis: Redis, principal: Principal) -> tuple[str, Session]:
    """Start a session for a principal that just logged in: (the cookie value, the session)."""
    if principal.anonymous or principal.username is None:
        raise ValueError("an anonymous caller has no session")
    session_id = secrets.token_urlsafe(32)
    session = Session(principal, secrets.token_urlsafe(32), time.time())
    record = {
        "name": principal.username,
        "kind": principal.kind.value,
        "user_id": principal.user_id,
        "robot_id": principal.robot_id,
        "created": session.created,
        "csrf": session.csrf_token,
    }
    await redis.set(_key(session_id), json.dumps(record), ex=IDLE_SECONDS)
    return session_id, session


async def _record(redis: Redis, session_id: str | None) -> dict[str, Any] | None:
    """The stored record when the session exists and is within its lifetime."""
    session_id = _plausible(session_id)
    if session_id is None:
        return None
    raw = await redis.get(_key(session_id))
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        created = float(record["created"])
    except (ValueError, TypeError, KeyError):
        return None
    if time.time() - created >= LIFETIME_SECONDS:
        await redis.delete(_key(session_id))
        return None
    return record if isinstance(record, dict) else None


async def load(redis: Redis, identity: PrincipalResolver, session_id: str | None) -> Session | None:
    """The live session for a cookie value, or None (unknown, expired, or the account is gone
    or changed). Restarts the idle clock."""
    record = await _record(redis, session_id)
    if record is None or session_id is None:
        return None
    try:
        name, kind = str(record["name"]), PrincipalKind(record["kind"])
        csrf = str(record["csrf"])
    except (KeyError, ValueError):
        return None
    principal = await identity.principal_by_name(name)
    if (
        principal is None
        or principal.kind is not kind
        or principal.user_id != record.get("user_id")
        or principal.robot_id != record.get("robot_id")
    ):
        await destroy(redis, session_id)
        return None
    created = float(record["created"])
    remaining = LIFETIME_SECONDS - (time.time() - created)
    await redis.expire(_key(session_id), max(1, int(min(IDLE_SECONDS, remaining))))
    return Session(principal, csrf, created)


async def csrf_token(redis: Redis, session_id: str | None) -> str | None:
    """The CSRF token of a session within its lifetime, without resolving the account or
    restarting the idle clock (for putting the token on responses)."""
    record = await _record(redis, session_id)
    token = record.get("csrf") if record is not None else None
    return token if isinstance(token, str) else None


async def destroy(redis: Redis, session_id: str | None) -> None:
    session_id = _plausible(session_id)
    if session_id is not None:
        await redis.delete(_key(session_id))
