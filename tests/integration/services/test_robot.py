"""Robot accounts through registry.services.robot."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, Match, QueryInvalid, Term
from registry.services import robot, user
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, NotPermitted, ResourceExists, RobotUnknown
from registry.services.project import create_project
from tests.integration.services.conftest import audit_lines, login

PULL = [{"resource": "repository", "action": "pull"}]


def _project_robot(name: str = "ci", namespace: str = "team") -> robot.RobotSpec:
    return robot.RobotSpec(
        name=name,
        level="project",
        permissions=[{"kind": "project", "namespace": namespace, "access": PULL}],
    )


def test_generated_secrets_follow_the_password_rule() -> None:
    for _ in range(20):
        user.check_password(robot.generate_secret())


@pytest.mark.parametrize(
    "permissions",
    [
        "all",
        [{"kind": "system", "namespace": "/", "access": PULL}],
        [{"namespace": "team", "access": [{"resource": "repository", "action": "fly"}]}],
        [{"namespace": "team", "access": [{**PULL[0], "effect": "deny"}]}],
    ],
)
def test_permissions_outside_harbors_model_are_refused(permissions: object) -> None:
    with pytest.raises(InvalidRequest):
        robot.check_permissions(permissions)


async def test_a_project_robot_is_bound_to_its_project_and_audited(
    backends: Backends, admin: Principal
) -> None:
    project_id = await create_project(backends, admin, "team", {})
    made = await robot.create_robot(backends, admin, _project_robot())
    assert made.full_name == "robot$team+ci"
    assert made.expires_at is None
    await login(backends.identity, made.full_name, made.secret)
    with pytest.raises(ResourceExists):
        await robot.create_robot(backends, admin, _project_robot())
    rows, total = await robot.list_robots(
        backends, admin, ListQuery({"ProjectID": Term(Match.EXACT, (str(project_id),))})
    )
    assert (total, rows[0]["name"]) == (1, "team+ci")
    secret = await robot.refresh_secret(backends, admin, made.id, None)
    await login(backends.identity, made.full_name, secret)
    await robot.delete_robot(backends, admin, made.id)
    with pytest.raises(RobotUnknown):
        await robot.robot_for(backends, admin, made.id, manage=False)
    assert [line for line in await audit_lines(backends) if line[1] == "robot"] == [
        ("create", "robot", "robot$team+ci", "admin"),
        ("update", "robot", "robot$team+ci:secret", "admin"),
        ("delete", "robot", "robot$team+ci", "admin"),
    ]


async def test_who_may_make_and_list_robots(backends: Backends, admin: Principal) -> None:
    await create_project(backends, admin, "team", {})
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    dev = await login(backends.identity, "dev", "Passw0rdX")
    system = robot.RobotSpec(
        name="sys", permissions=[{"kind": "project", "namespace": "*", "access": PULL}]
    )
    with pytest.raises(NotPermitted):
        await robot.create_robot(backends, dev, system)
    with pytest.raises(NotPermitted):
        await robot.create_robot(backends, dev, _project_robot())
    with pytest.raises(NotPermitted):
        await robot.list_robots(backends, dev, ListQuery())
    with pytest.raises(QueryInvalid):
        await robot.list_robots(
            backends, admin, ListQuery({"ProjectID": Term(Match.EXACT, ("x",))})
        )
    made = await robot.create_robot(backends, admin, system)
    with pytest.raises(NotPermitted):
        await robot.robot_for(backends, dev, made.id, manage=False)


async def test_updates_keep_a_project_robot_in_its_project(
    backends: Backends, admin: Principal
) -> None:
    await create_project(backends, admin, "team", {})
    await create_project(backends, admin, "other", {})
    made = await robot.create_robot(backends, admin, _project_robot())
    elsewhere = [{"kind": "project", "namespace": "other", "access": PULL}]
    with pytest.raises(InvalidRequest):
        await robot.update_robot(
            backends,
            admin,
            made.id,
            description=None,
            disabled=None,
            duration=None,
            permissions=elsewhere,
        )
    await robot.update_robot(
        backends, admin, made.id, description="x", disabled=True, duration=30, permissions=None
    )
    row = await robot.robot_for(backends, admin, made.id, manage=False)
    assert (row["description"], row["disabled"], row["duration"]) == ("x", True, 30)
    assert row["expires_at"] is not None
    assert await backends.identity.login(made.full_name, made.secret) is None
