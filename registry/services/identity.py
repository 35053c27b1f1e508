"""Logging in: local users, LDAP users and robot accounts, behind one entry point.

``login`` decides which backend answers (robots by their ``robot$`` prefix, ``admin`` always
from the database, everyone else by ``auth_mode``), onboards LDAP users and their groups,
throttles repeated failures per account, and remembers recent successes so a registry client
that sends its credentials with every token request does not pay for a password hash each time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from redis.asyncio import Redis

from registry.auth.base import AuthBackendError, Identity
from registry.auth.ldap import LdapAuthenticator, LdapConfig, find_user
from registry.auth.password import verify_password
from registry.auth.principal import Principal, PrincipalKind
from registry.db import groups, oidc_users, robots, users
from registry.db.pool import Pool
from registry.services.configuration import ConfigurationCache
from registry.services.errors import BackendUnavailable, LoginThrottled

log = logging.getLogger(__name__)

ROBOT_PREFIX = "robot$"
ADMIN = "admin"

# A valid hash of a random password, checked when the account does not exist so that the
# answer takes as long as for a real one.
_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


# Login attempts per account: KEYS[1] counts recent failures, KEYS[2] attempts being checked
# right now. An attempt may start when failures plus attempts in flight stay under the limit:
# 1, counted in flight; 0, wait for those in flight to finish; -1, throttled.
_START_ATTEMPT = """
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
if failures >= limit then
    return -1
end
local running = tonumber(redis.call('GET', KEYS[2]) or '0')
if failures + running >= limit then
    return 0
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""
# An attempt is over: no longer in flight, and a failure when ARGV[1] is 1 (every failure
# restarts the window of ARGV[2] seconds).
_END_ATTEMPT = """
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
    redis.call('DECR', KEYS[2])
end
if ARGV[1] == '1' then
    redis.call('INCR', KEYS[1])
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# An attempt counted in flight by a process that died stops counting after this long.
_IN_FLIGHT_SECONDS = 60
# How long an attempt waits for others on the same account to finish, and how often it looks.
_WAIT_SECONDS = 30.0
_WAIT_STEP_SECONDS = 0.02


# Bumped whenever an account, a credential, a group or the auth settings change; a login a
# process remembers counts only while the generation it was checked under is still current,
# so a change bites on the next request on every replica.
_GENERATION_KEY = "berth:identity-generation"


@dataclass(slots=True)
class _Remembered:
    principal: Principal
    at: float
    generation: int


class IdentityService:
    def __init__(
        self,
        db: Pool,
        redis: Redis,
        config: ConfigurationCache,
        *,
        failure_limit: int = 10,
        failure_window_seconds: int = 300,
        remember_seconds: float = 30.0,
        capacity: int = 2048,
    ) -> None:
        self._db = db
        self._redis = redis
        self._config = config
        self._failure_limit = failure_limit
        self._failure_window = failure_window_seconds
        self._remember_seconds = remember_seconds
        self._capacity = capacity
        self._remembered: OrderedDict[bytes, _Remembered] = OrderedDict()

    async def login(self, username: str, password: str) -> Principal | None:
        """The principal for these credentials, None when they are wrong.

        Raises LoginThrottled after too many recent failures for the account (even with the
        right password, so guessing cannot continue; credentials this process verified moments
        ago are no guess and still pass), BackendUnavailable when LDAP is down.
        """
        if not username or not password:
            return None
        key = hashlib.sha256(f"{username}\0{password}".encode()).digest()
        generation = await self._generation()
        remembered = self._remembered.get(key)
        if (
            remembered is not None
            and remembered.generation == generation
            and time.monotonic() - remembered.at < self._remember_seconds
        ):
            return remembered.principal
        account = hashlib.sha256(username.encode()).hexdigest()
        keys = (f"berth:login-failures:{account}", f"berth:login-checking:{account}")
        await self._start_attempt(keys)
        # Only wrong credentials count as a failure; an outage or an error does not.
        failed = False
        try:
            principal, from_directory = await self._authenticate(username, password)
            failed = principal is None
        finally:
            await self._redis.eval(
                _END_ATTEMPT, 2, *keys, "1" if failed else "0", self._failure_window
            )
        if principal is None:
            self._remembered.pop(key, None)
            return None
        if from_directory:
            # The directory may change a password or a group at any time without Berth
            # hearing of it, so its answers are asked for afresh every time.
            return principal
        self._remembered[key] = _Remembered(principal, time.monotonic(), generation)
        self._remembered.move_to_end(key)
        while len(self._remembered) > self._capacity:
            self._remembered.popitem(last=False)
        return principal

    async def _start_attempt(self, keys: tuple[str, str]) -> None:
        """Count an attempt before the secret is checked, so that parallel guesses cannot all
        pass the limit before the first failure is recorded: each waits while failures plus
        attempts in flight reach the limit, and is refused once failures alone do."""
        deadline = time.monotonic() + _WAIT_SECONDS
        while True:
            started = await self._redis.eval(
                _START_ATTEMPT, 2, *keys, self._failure_limit, _IN_FLIGHT_SECONDS
            )
            if int(started) == 1:
                return
            if int(started) < 0 or time.monotonic() > deadline:
                raise LoginThrottled()
            await asyncio.sleep(_WAIT_STEP_SECONDS)

    def forget_all(self) -> None:
        """Drop the logins this process remembers."""
        self._remembered.clear()

    async def changed(self) -> None:
        """An account, a credential, a group or the auth settings changed: no process trusts a
        login it remembers from before (checked on each one's next request)."""
        self._remembered.clear()
        await self._redis.incr(_GENERATION_KEY)

    async def _generation(self) -> int:
        return int(await self._redis.get(_GENERATION_KEY) or 0)

    async def _authenticate(self, username: str, password: str) -> tuple[Principal | None, bool]:
        """The principal (None for wrong credentials) and whether a directory vouched for it."""
        if username.startswith(ROBOT_PREFIX):
            return await self._robot(username, password), False
        config = await self._config.get()
        if username == ADMIN or config["auth_mode"] == "db_auth":
            return await self._database_user(username, password), False
        if config["auth_mode"] == "oidc_auth":
            return await self._oidc_cli_user(username, password), False
        return await self._ldap_user(username, password, config), True

    async def _oidc_cli_user(self, username: str, secret: str) -> Principal | None:
        """An OIDC user logging in with their CLI secret (registry clients cannot follow the
        browser flow)."""
        row = await users.get_by_username(self._db, username)
        linked = await oidc_users.get(self._db, row["id"]) if row is not None else None
        stored = linked["secret_hash"] if linked is not None else None
        ok = await asyncio.to_thread(verify_password, secret, stored or _DUMMY_HASH)
        if row is None or stored is None or not ok:
            return None
        return await self.principal_for_user(row["id"])

    async def _database_user(self, username: str, password: str) -> Principal | None:
        row = await users.get_by_username(self._db, username)
        stored = row["password_hash"] if row is not None else None
        ok = await asyncio.to_thread(verify_password, password, stored or _DUMMY_HASH)
        if row is None or stored is None or not ok:
            return None
        return await self.principal_for_user(row["id"])

    async def _ldap_user(
        self, username: str, password: str, config: dict[str, object]
    ) -> Principal | None:
        try:
            authenticator = LdapAuthenticator(ldap_config(config))
            identity = await authenticator.authenticate(username, password)
        except AuthBackendError as exc:
            log.warning("LDAP login failed: %s", exc)
            raise BackendUnavailable(str(exc)) from None
        if identity is None:
            return None
        return await self.onboard(identity)

    async def onboard(self, identity: Identity) -> Principal:
        """Create or refresh the local user an external backend vouched for."""
        async with self._db.acquire() as conn, conn.transaction():
            row = await users.onboard_external(
                conn,
                identity.username,
                email=identity.email,
                realname=identity.realname or "",
                source="ldap",
                external_id=identity.external_id,
            )
            group_ids = await groups.ids_for_dns(conn, list(identity.groups))
            await users.set_groups(conn, row["id"], group_ids)
        return Principal(
            username=row["username"],
            kind=PrincipalKind.USER,
            user_id=row["id"],
            sysadmin=row["sysadmin"] or identity.sysadmin,
            group_ids=tuple(group_ids),
        )

    async def principal_for_user(self, user_id: int) -> Principal | None:
        row = await users.get(self._db, user_id)
        if row is None:
            return None
        return Principal(
            username=row["username"],
            kind=PrincipalKind.USER,
            user_id=row["id"],
            sysadmin=row["sysadmin"],
            group_ids=await users.group_ids(self._db, row["id"]),
        )

    async def principal_by_name(self, name: str) -> Principal | None:
        """Re-resolve a token subject (refresh tokens): None when the account is gone or
        can no longer log in."""
        if name.startswith(ROBOT_PREFIX):
            row = await robots.get_by_name(self._db, name.removeprefix(ROBOT_PREFIX))
            return _robot_principal(row) if row is not None and _robot_usable(row) else None
        user = await users.get_by_username(self._db, name)
        return await self.principal_for_user(user["id"]) if user is not None else None

    async def refresh_stamp(self, principal: Principal) -> str:
        """A digest of the account's credential as it is now, for a refresh token to carry:
        it changes when the password is reset, the robot's secret refreshed, or the account
        deleted and made again under the same name."""
        if principal.kind is PrincipalKind.ROBOT and principal.robot_id is not None:
            row = await robots.get(self._db, principal.robot_id)
            material = f"robot\0{row['id']}\0{row['secret_hash']}" if row is not None else ""
        elif principal.user_id is not None:
            row = await users.get(self._db, principal.user_id)
            material = f"user\0{row['id']}\0{row['password_hash'] or ''}" if row else ""
            linked = await oidc_users.get(self._db, principal.user_id) if row else None
            if linked is not None:
                # A new CLI secret ends the refresh tokens issued for the old one.
                material += f"\0{linked['secret_hash'] or ''}"
        else:
            material = ""
        return hashlib.sha256(material.encode()).hexdigest()[:32] if material else ""

    async def principal_for_refresh(self, name: str, stamp: str) -> Principal | None:
        """Who a refresh token names, when that account may still log in the way it did and
        its credential is unchanged since the token was issued; None otherwise. Directory
        users are looked up in the directory again (gone or filtered out: None)."""
        if name.startswith(ROBOT_PREFIX):
            principal = await self.principal_by_name(name)
        else:
            user = await users.get_by_username(self._db, name)
            if user is None:
                return None
            config = await self._config.get()
            if config["auth_mode"] == "oidc_auth" and name != ADMIN:
                linked = await oidc_users.get(self._db, user["id"])
                principal = (
                    await self.principal_for_user(user["id"])
                    if linked is not None and linked["secret_hash"] is not None
                    else None
                )
            elif name == ADMIN or config["auth_mode"] == "db_auth":
                principal = (
                    await self.principal_for_user(user["id"])
                    if user["password_hash"] is not None
                    else None
                )
            else:
                principal = await self._directory_user(name, config)
        if principal is None:
            return None
        current = await self.refresh_stamp(principal)
        if not current or not hmac.compare_digest(current, stamp):
            return None
        return principal

    async def _directory_user(self, name: str, config: dict[str, object]) -> Principal | None:
        try:
            identity = await find_user(ldap_config(config), name)
        except AuthBackendError as exc:
            log.warning("LDAP lookup failed: %s", exc)
            raise BackendUnavailable(str(exc)) from None
        return await self.onboard(identity) if identity is not None else None

    async def _robot(self, username: str, secret: str) -> Principal | None:
        row = await robots.get_by_name(self._db, username.removeprefix(ROBOT_PREFIX))
        stored = row["secret_hash"] if row is not None else None
        ok = await asyncio.to_thread(verify_password, secret, stored or _DUMMY_HASH)
        if row is None or not ok or not _robot_usable(row):
            return None
        return _robot_principal(row)


def ldap_config(config: dict[str, object]) -> LdapConfig:
    """The LDAP settings out of the whole system configuration."""
    return LdapConfig.model_validate({k: v for k, v in config.items() if k.startswith("ldap_")})


def _robot_usable(row: asyncpg.Record) -> bool:
    expires_at: datetime | None = row["expires_at"]
    return not row["disabled"] and (expires_at is None or expires_at > datetime.now(UTC))


def _robot_principal(row: asyncpg.Record) -> Principal:
    return Principal(
        username=ROBOT_PREFIX + row["name"], kind=PrincipalKind.ROBOT, robot_id=row["id"]
    )
