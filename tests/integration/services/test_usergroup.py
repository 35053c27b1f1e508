"""User groups through registry.services.usergroup."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, Match, Term
from registry.rbac import Role
from registry.services import member, user, usergroup
from registry.services.context import Backends
from registry.services.errors import GroupUnknown, InvalidRequest, NotPermitted, ResourceExists
from registry.services.project import create_project, find_by_id
from tests.integration.services.conftest import audit_lines, login

DN = "cn=devs,ou=groups,dc=example,dc=org"


async def test_groups_are_made_renamed_and_deleted_with_their_memberships(
    backends: Backends, admin: Principal
) -> None:
    group_id = await usergroup.create_group(backends, admin, "devs", usergroup.LDAP, DN)
    with pytest.raises(ResourceExists):
        await usergroup.create_group(backends, admin, "devs", usergroup.LDAP, DN)
    await usergroup.rename_group(backends, admin, group_id, "developers")
    rows, total = await usergroup.list_groups(
        backends, ListQuery({"group_name": Term(Match.CONTAINS, ("velop",))})
    )
    assert (total, rows[0]["group_name"]) == (1, "developers")
    project = await create_project(backends, admin, "team", {})
    ref = await find_by_id(backends.db, project)
    assert ref is not None
    await member.add_member(
        backends, admin, ref, member.GroupMember(group_id=group_id), Role.DEVELOPER
    )
    await usergroup.delete_group(backends, admin, group_id)
    with pytest.raises(GroupUnknown):
        await usergroup.get_group(backends, group_id)
    assert (await member.list_members(backends, ref, ListQuery()))[1] == 1  # the creator
    assert [line for line in await audit_lines(backends) if line[1] == "usergroup"] == [
        ("create", "usergroup", DN, "admin"),
        ("update", "usergroup", str(group_id), "admin"),
        ("delete", "usergroup", str(group_id), "admin"),
    ]


async def test_only_admins_manage_groups_and_ldap_groups_need_a_dn(
    backends: Backends, admin: Principal
) -> None:
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    dev = await login(backends.identity, "dev", "Passw0rdX")
    with pytest.raises(NotPermitted):
        await usergroup.create_group(backends, dev, "devs", usergroup.LDAP, DN)
    with pytest.raises(InvalidRequest):
        await usergroup.create_group(backends, admin, "devs", usergroup.LDAP, None)
    with pytest.raises(InvalidRequest):
        await usergroup.create_group(backends, admin, "devs", 7, DN)
    await usergroup.create_group(backends, admin, "web", usergroup.HTTP, None)
