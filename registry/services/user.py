"""Local user accounts: creating, listing, changing and deleting them, and the password rule."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from registry.auth.base import Identity
from registry.auth.password import hash_password, verify_password
from registry.auth.principal import Principal
from registry.db import members, users
from registry.query import ListQuery
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    NotPermitted,
    PasswordInvalid,
    ResourceExists,
    ResourceUnknown,
    UserUnknown,
)

# Matched in full (fullmatch): "$" would let a trailing newline through.
_USERNAME = re.compile(r"[^\s,~#$%:/\\\"'<>]{1,255}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

# The account Berth creates at first start; it always exists and stays a system admin.
ADMIN = "admin"


def check_password(password: str) -> None:
    """Harbor's rule, for user passwords and robot secrets alike: 8 to 128 characters with an
    upper-case letter, a lower-case letter and a digit."""
    if not (
        8 <= len(password) <= 128
        and re.search(r"[A-Z]", password)
        and re.search(r"[a-z]", password)
        and re.search(r"[0-9]", password)
    ):
        raise PasswordInvalid()


def check_email(email: str | None) -> None:
    if email and not _EMAIL.fullmatch(email):
        raise InvalidRequest("invalid email")


def require_self_or_admin(actor: Principal, user_id: int) -> None:
    if not actor.sysadmin and actor.user_id != user_id:
        raise NotPermitted("you may only see and change your own account")


async def get_user(b: Backends, actor: Principal, user_id: int) -> asyncpg.Record:
    require_self_or_admin(actor, user_id)
    row = await users.get(b.db, user_id)
    if row is None:
        raise UserUnknown()
    return row


async def current_user(b: Backends, actor: Principal) -> asyncpg.Record:
    if actor.user_id is None:
        raise ResourceUnknown("robot accounts have no user record")
    return await get_user(b, actor, actor.user_id)


async def list_users(b: Backends, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await users.list_users(b.db, query)


async def check_may_create(b: Backends, actor: Principal) -> None:
    """System admins create accounts, or anyone when self-registration is on (database
    authentication only: in LDAP mode accounts come from the directory)."""
    config = await b.config.get()
    if config["auth_mode"] != "db_auth":
        raise NotPermitted("users come from LDAP in this auth mode")
    if not actor.sysadmin and not (actor.anonymous and config["self_registration"]):
        raise NotPermitted("only system administrators may create users")


async def create_user(
    b: Backends,
    actor: Principal,
    username: str,
    password: str,
    *,
    email: str | None = None,
    realname: str = "",
    comment: str = "",
) -> int:
    await check_may_create(b, actor)
    if not _USERNAME.fullmatch(username) or username.startswith("robot$"):
        raise InvalidRequest("invalid username")
    check_email(email)
    check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        user_id = await users.create(
            b.db, username, password_hash, email=email, realname=realname, comment=comment
        )
    except asyncpg.UniqueViolationError:
        raise ResourceExists("username or email already in use") from None
    await b.audit.record(AuditEvent("create", "user", username, actor.name))
    return user_id


async def update_profile(
    b: Backends,
    actor: Principal,
    user_id: int,
    *,
    email: str | None,
    realname: str | None,
    comment: str | None,
) -> None:
    """Change what is given (None keeps it)."""
    require_self_or_admin(actor, user_id)
    check_email(email)
    if await users.get(b.db, user_id) is None:
        raise UserUnknown()
    try:
        await users.update_profile(b.db, user_id, email or None, realname, comment)
    except asyncpg.UniqueViolationError:
        raise ResourceExists("email already in use") from None
    await b.audit.record(AuditEvent("update", "user", str(user_id), actor.name))


async def change_password(
    b: Backends, actor: Principal, user_id: int, new_password: str, old_password: str | None
) -> None:
    """Users changing their own password prove the old one; admins reset others' without."""
    require_self_or_admin(actor, user_id)
    row = await users.get(b.db, user_id)
    if row is None:
        raise UserUnknown()
    if row["source"] != "db":
        raise NotPermitted("the password of an LDAP user is changed in the directory")
    if actor.user_id == user_id:
        if old_password is None:
            raise InvalidRequest("old_password is required")
        if not await asyncio.to_thread(verify_password, old_password, row["password_hash"]):
            raise InvalidRequest("the old password is wrong")
    check_password(new_password)
    await users.set_password(b.db, user_id, await asyncio.to_thread(hash_password, new_password))
    # Sessions, cached logins and refresh tokens of the old password end here.
    await b.identity.changed()
    await b.audit.record(AuditEvent("update", "user", f"{row['username']}:password", actor.name))


async def set_sysadmin(b: Backends, actor: Principal, user_id: int, flag: bool) -> None:
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")
    row = await users.get(b.db, user_id)
    if row is None:
        raise UserUnknown()
    if row["username"] == ADMIN and not flag:
        raise NotPermitted("the admin account stays a system administrator")
    await users.set_sysadmin(b.db, user_id, flag)
    await b.identity.changed()
    await b.audit.record(AuditEvent("update", "user", f"{row['username']}:sysadmin", actor.name))


async def delete_user(b: Backends, actor: Principal, user_id: int) -> None:
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")
    row = await users.get(b.db, user_id)
    if row is None:
        raise UserUnknown()
    if row["username"] == ADMIN or actor.user_id == user_id:
        raise NotPermitted("the admin account and your own account cannot be deleted")
    async with b.db.acquire() as conn, conn.transaction():
        await members.remove_entity(conn, "u", user_id)
        await users.delete(conn, user_id)
    await b.identity.changed()
    await b.audit.record(AuditEvent("delete", "user", row["username"], actor.name))


async def import_from_directory(b: Backends, actor: Principal, identity: Identity) -> None:
    """Make (or refresh) the local record of a user the directory knows, before first login."""
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")
    await b.identity.onboard(identity)
    await b.audit.record(AuditEvent("create", "user", identity.username, actor.name))
