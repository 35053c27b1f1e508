"""Who is calling, as audit records and token subjects name them."""

from __future__ import annotations

from registry.auth.principal import ANONYMOUS, Principal, PrincipalKind


def test_the_anonymous_caller() -> None:
    assert ANONYMOUS.anonymous
    assert ANONYMOUS.name == "anonymous"
    assert (ANONYMOUS.user_id, ANONYMOUS.robot_id, ANONYMOUS.sysadmin) == (None, None, False)


def test_users_and_robots_go_by_their_names() -> None:
    user = Principal("dev", PrincipalKind.USER, user_id=7, group_ids=(3, 4))
    robot = Principal("robot$team+ci", PrincipalKind.ROBOT, robot_id=2)
    assert (user.name, robot.name) == ("dev", "robot$team+ci")
    assert not user.anonymous
    assert not robot.anonymous
