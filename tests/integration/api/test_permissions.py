"""/permissions and /users/current/permissions, read with harborapi: what a user may do in a
project is what the permission matrix gives their role, in Harbor's resource/action pairs."""

from __future__ import annotations

import httpx
import pytest
from harborapi.exceptions import BadRequest, Forbidden

from registry.rbac import PERMISSIONS, ROBOT_ACCESS, Role, harbor_pairs
from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.harbor import harbor
from tests.integration.api.test_identity import PASSWORD, api, make_user


async def _add_member(berth: Berth, project: str, user: str, role: Role) -> None:
    async with api(berth) as a:
        r = await a.post(
            f"/projects/{project}/members",
            json={"role_id": int(role), "member_user": {"username": user}},
        )
        assert r.status_code == 201, r.text


async def _project_id(berth: Berth, name: str) -> int:
    async with api(berth) as a:
        r: httpx.Response = await a.get(f"/projects/{name}")
        project_id: int = r.json()["project_id"]
        return project_id


async def test_a_developer_sees_what_the_matrix_gives_developers(berth: Berth) -> None:
    await create_project(berth, "team")
    await create_project(berth, "other")
    await make_user(berth, "dev")
    await _add_member(berth, "team", "dev", Role.DEVELOPER)
    team = await _project_id(berth, "team")
    async with harbor(berth, "dev", PASSWORD) as client:
        relative = await client.get_current_user_permissions(f"/project/{team}", relative=True)
        pairs = {(p.resource, p.action) for p in relative}
        assert pairs == set(harbor_pairs(PERMISSIONS[Role.DEVELOPER]))
        assert ("repository", "push") in pairs
        assert ("repository", "delete") not in pairs
        assert ("member", "create") not in pairs
        absolute = await client.get_current_user_permissions(f"/project/{team}")
        assert {(p.resource, p.action) for p in absolute} == {
            (f"/project/{team}/{r}", a) for r, a in pairs
        }
        # A private project the user is not in allows nothing.
        other = await _project_id(berth, "other")
        assert await client.get_current_user_permissions(f"/project/{other}") == []
        system = await client.get_current_user_permissions("/system", relative=True)
        assert [(p.resource, p.action) for p in system] == [("project", "create")]
        with pytest.raises(BadRequest):
            await client.get_current_user_permissions("/nowhere")
        # Only administrators list what robots may be given.
        with pytest.raises(Forbidden):
            await client.get_permissions()


async def test_administrators_list_the_robot_permission_items(berth: Berth) -> None:
    await create_project(berth, "team")
    await make_user(berth, "owner")
    await _add_member(berth, "team", "owner", Role.PROJECT_ADMIN)
    grantable = {item for item, grants in ROBOT_ACCESS.items() if grants}
    async with harbor(berth, "owner", PASSWORD) as client:
        listed = await client.get_permissions()
        assert listed.system is None
        assert listed.project is not None
        assert {(p.resource, p.action) for p in listed.project} == grantable
    async with harbor(berth) as client:
        listed = await client.get_permissions()
        assert listed.system == []
        assert listed.project is not None
        assert {(p.resource, p.action) for p in listed.project} == grantable
        system = await client.get_current_user_permissions("/system", relative=True)
        assert ("configuration", "update") in {(p.resource, p.action) for p in system}
