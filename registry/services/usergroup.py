"""User groups (LDAP groups by DN, as Harbor's /usergroups keeps them): project members too."""

from __future__ import annotations

import asyncpg

from registry.auth.principal import Principal
from registry.db import groups, members
from registry.query import ListQuery
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    GroupUnknown,
    InvalidRequest,
    NotPermitted,
    ResourceExists,
)

LDAP, HTTP, OIDC = 1, 2, 3


def _require_admin(actor: Principal) -> None:
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")


async def list_groups(b: Backends, query: ListQuery) -> tuple[list[asyncpg.Record], int]:
    return await groups.list_groups(b.db, query)


async def get_group(b: Backends, group_id: int) -> asyncpg.Record:
    row = await groups.get(b.db, group_id)
    if row is None:
        raise GroupUnknown()
    return row


async def create_group(
    b: Backends, actor: Principal, name: str, group_type: object, ldap_group_dn: str | None
) -> int:
    _require_admin(actor)
    if group_type not in (LDAP, HTTP, OIDC):
        raise InvalidRequest("group_type is 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
    assert isinstance(group_type, int)
    if group_type == LDAP and not ldap_group_dn:
        raise InvalidRequest("an LDAP group needs ldap_group_dn")
    group_id = await groups.create(b.db, name, group_type, ldap_group_dn)
    if group_id is None:
        raise ResourceExists("the group already exists")
    # Logins map directory groups to these rows: cached principals must be rebuilt.
    await b.identity.changed()
    await b.audit.record(AuditEvent("create", "usergroup", ldap_group_dn or name, actor.name))
    return group_id


async def rename_group(b: Backends, actor: Principal, group_id: int, name: str) -> None:
    _require_admin(actor)
    try:
        renamed = await groups.rename(b.db, group_id, name)
    except asyncpg.UniqueViolationError:
        raise ResourceExists(f"a group named {name} already exists") from None
    if not renamed:
        raise GroupUnknown()
    await b.audit.record(AuditEvent("update", "usergroup", str(group_id), actor.name))


async def delete_group(b: Backends, actor: Principal, group_id: int) -> None:
    """The group and its memberships in every project."""
    _require_admin(actor)
    async with b.db.acquire() as conn, conn.transaction():
        await members.remove_entity(conn, "g", group_id)
        if not await groups.delete(conn, group_id):
            raise GroupUnknown()
    await b.identity.changed()
    await b.audit.record(AuditEvent("delete", "usergroup", str(group_id), actor.name))
