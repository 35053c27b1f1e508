"""Project members: users and groups holding a role in a project."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from registry.auth.principal import Principal
from registry.db import groups, members, users
from registry.query import ListQuery
from registry.rbac import ProjectRef, Role
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, MemberUnknown, ResourceExists, ResourceUnknown
from registry.services.usergroup import HTTP, LDAP, OIDC


@dataclass(frozen=True, slots=True)
class UserMember:
    """A user by id, or by name (an LDAP user not seen yet is onboarded from the directory)."""

    user_id: int | None = None
    username: str | None = None


@dataclass(frozen=True, slots=True)
class GroupMember:
    """A group by id, by DN, or (OIDC and HTTP groups) by name and type; made on first use,
    as Harbor does."""

    group_id: int | None = None
    ldap_group_dn: str | None = None
    group_name: str | None = None
    group_type: object = LDAP


async def list_members(
    b: Backends, project: ProjectRef, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await members.list_for_project(b.db, project.id, query)


async def get_member(b: Backends, project: ProjectRef, member_id: int) -> asyncpg.Record:
    row = await members.get(b.db, project.id, member_id)
    if row is None:
        raise MemberUnknown()
    return row


async def _user(b: Backends, wanted: UserMember) -> tuple[str, int, str]:
    if wanted.user_id is not None:
        row = await users.get(b.db, wanted.user_id)
    else:
        assert wanted.username is not None
        row = await users.get_by_username(b.db, wanted.username)
        if row is None:
            row = await _import_ldap_user(b, wanted.username)
    if row is None:
        raise ResourceUnknown("user not found")
    return "u", row["id"], row["username"]


async def _import_ldap_user(b: Backends, username: str) -> asyncpg.Record | None:
    from registry.auth.ldap import find_user
    from registry.services.identity import ldap_config

    config = await b.config.get()
    if config["auth_mode"] != "ldap_auth":
        return None
    identity = await find_user(ldap_config(config), username)
    if identity is None:
        return None
    principal = await b.identity.onboard(identity)
    assert principal.user_id is not None
    return await users.get(b.db, principal.user_id)


async def _group(b: Backends, wanted: GroupMember) -> tuple[str, int, str]:
    if wanted.group_id is not None:
        row = await groups.get(b.db, wanted.group_id)
    elif wanted.ldap_group_dn is None:
        if wanted.group_type not in (HTTP, OIDC) or not wanted.group_name:
            raise InvalidRequest("member_group needs id, ldap_group_dn, or group_name and type")
        assert isinstance(wanted.group_type, int)
        ids = await groups.ensure_named(b.db, wanted.group_type, [wanted.group_name])
        row = await groups.get(b.db, ids[0])
    else:
        dn = wanted.ldap_group_dn
        assert dn is not None
        row = await groups.find_by_dn(b.db, dn)
        if row is None:
            name = wanted.group_name or dn.split(",", 1)[0].split("=", 1)[-1]
            group_type = wanted.group_type or LDAP
            if group_type not in (LDAP, HTTP, OIDC):
                raise InvalidRequest("member_group.group_type is 1, 2 or 3")
            assert isinstance(group_type, int)
            await groups.create(b.db, name, group_type, dn)
            row = await groups.find_by_dn(b.db, dn)
    if row is None:
        raise ResourceUnknown("group not found")
    return "g", row["id"], row["group_name"]


async def add_member(
    b: Backends, actor: Principal, project: ProjectRef, member: UserMember | GroupMember, role: Role
) -> int:
    entity_type, entity_id, name = await (
        _user(b, member) if isinstance(member, UserMember) else _group(b, member)
    )
    member_id = await members.add(b.db, project.id, entity_type, entity_id, int(role))
    if member_id is None:
        raise ResourceExists(f"{name} is already a member of {project.name}")
    await b.audit.record(
        AuditEvent("create", "member", f"{project.name}:{name}", actor.name, project.id)
    )
    return member_id


async def change_role(
    b: Backends, actor: Principal, project: ProjectRef, member_id: int, role: Role
) -> None:
    if not await members.update_role(b.db, project.id, member_id, int(role)):
        raise MemberUnknown()
    await b.audit.record(
        AuditEvent("update", "member", f"{project.name}:{member_id}", actor.name, project.id)
    )


async def remove_member(b: Backends, actor: Principal, project: ProjectRef, member_id: int) -> None:
    if not await members.remove(b.db, project.id, member_id):
        raise MemberUnknown()
    await b.audit.record(
        AuditEvent("delete", "member", f"{project.name}:{member_id}", actor.name, project.id)
    )
