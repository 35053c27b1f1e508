"""Project members through registry.services.member."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, Match, Term
from registry.rbac import ProjectRef, Role
from registry.services import access, member, user
from registry.services.context import Backends
from registry.services.errors import MemberUnknown, ResourceExists, ResourceUnknown
from registry.services.project import create_project, find_by_id
from tests.integration.services.conftest import audit_lines, login


async def _team(backends: Backends, admin: Principal) -> ProjectRef:
    project = await find_by_id(backends.db, await create_project(backends, admin, "team", {}))
    assert project is not None
    return project


async def test_members_get_roles_that_rbac_then_honours(
    backends: Backends, admin: Principal
) -> None:
    team = await _team(backends, admin)
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    dev = await login(backends.identity, "dev", "Passw0rdX")
    member_id = await member.add_member(
        backends, admin, team, member.UserMember(username="dev"), Role.GUEST
    )
    assert await access.role_in(backends.db, dev, team) is Role.GUEST
    again = member.UserMember(username="dev")
    with pytest.raises(ResourceExists):
        await member.add_member(backends, admin, team, again, Role.GUEST)
    await member.change_role(backends, admin, team, member_id, Role.MAINTAINER)
    assert (await member.get_member(backends, team, member_id))["role"] == Role.MAINTAINER
    rows, total = await member.list_members(
        backends, team, ListQuery({"entityname": Term(Match.CONTAINS, ("de",))})
    )
    assert (total, rows[0]["entity_name"]) == (1, "dev")
    await member.remove_member(backends, admin, team, member_id)
    with pytest.raises(MemberUnknown):
        await member.remove_member(backends, admin, team, member_id)
    assert [line for line in await audit_lines(backends) if line[1] == "member"] == [
        ("create", "member", "team:dev", "admin"),
        ("update", "member", f"team:{member_id}", "admin"),
        ("delete", "member", f"team:{member_id}", "admin"),
    ]


async def test_unknown_users_are_refused_and_groups_are_made_from_a_dn(
    backends: Backends, admin: Principal
) -> None:
    team = await _team(backends, admin)
    with pytest.raises(ResourceUnknown):  # database auth: nobody to onboard from a directory
        await member.add_member(
            backends, admin, team, member.UserMember(username="ghost"), Role.GUEST
        )
    dn = "cn=ops,ou=groups,dc=example,dc=org"
    await member.add_member(backends, admin, team, member.GroupMember(ldap_group_dn=dn), Role.GUEST)
    rows, _ = await member.list_members(backends, team, ListQuery())
    assert sorted(r["entity_name"] for r in rows) == ["admin", "ops"]
