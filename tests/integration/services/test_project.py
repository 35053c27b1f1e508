"""Project listing, visibility and counts through registry.services.project."""

from __future__ import annotations

import pytest

from registry.auth.principal import ANONYMOUS, Principal
from registry.db import repositories
from registry.query import ListQuery, Match, Term
from registry.rbac import Role
from registry.services import member, robot, user
from registry.services import project as project_service
from registry.services.context import Backends
from registry.services.errors import NotPermitted
from registry.services.project import find_by_id
from tests.integration.services.conftest import login


async def _names(b: Backends, actor: Principal, query: ListQuery | None = None) -> list[str]:
    rows, total = await project_service.list_projects(b, actor, query or ListQuery(page_size=100))
    assert total == len(rows)
    return [r["name"] for r in rows]


async def test_who_sees_which_projects(backends: Backends, admin: Principal) -> None:
    secret = await project_service.create_project(backends, admin, "secret", {})
    team_id = await project_service.create_project(backends, admin, "team", {})
    await project_service.create_project(backends, admin, "open", {"public": "true"})
    team = await find_by_id(backends.db, team_id)
    assert team is not None
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    await member.add_member(
        backends, admin, team, member.UserMember(username="dev"), Role.LIMITED_GUEST
    )
    dev = await login(backends.identity, "dev", "Passw0rdX")
    made = await robot.create_robot(
        backends,
        admin,
        robot.RobotSpec(
            name="ci",
            permissions=[
                {
                    "kind": "project",
                    "namespace": str(secret),
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        ),
    )
    bot = await login(backends.identity, made.full_name, made.secret)

    assert await _names(backends, admin) == ["library", "secret", "team", "open"]
    assert await _names(backends, dev) == ["library", "team", "open"]
    assert await _names(backends, bot) == ["library", "secret", "open"]
    assert await _names(backends, ANONYMOUS) == ["library", "open"]
    only_public = ListQuery({"public": Term(Match.EXACT, ("true",))})
    assert await _names(backends, admin, only_public) == ["library", "open"]
    rows, _ = await project_service.list_projects(backends, admin, ListQuery(), name="ea")
    assert [r["name"] for r in rows] == ["team"]


async def test_counts_and_who_may_create(backends: Backends, admin: Principal) -> None:
    project_id = await project_service.create_project(backends, admin, "team", {})
    project = await find_by_id(backends.db, project_id)
    assert project is not None
    await repositories.ensure(backends.db, project_id, "team/app")
    assert await project_service.repositories_held(backends, project) == 1
    counts = await project_service.summary(backends, project)
    assert (counts["repo_count"], counts["project_admin_count"]) == (1, 1)
    assert await project_service.project_exists(backends, "team")
    assert not await project_service.project_exists(backends, "nothing")
    with pytest.raises(NotPermitted):
        await project_service.create_project(backends, ANONYMOUS, "mine", {})
