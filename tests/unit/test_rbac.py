"""Robot permission items as Harbor means them, and the project scopes lists are cut to."""

from __future__ import annotations

from registry.auth.principal import Principal, PrincipalKind
from registry.query import ProjectScope
from registry.rbac import Action, Role, project_scope, robot_actions, roles_with


def test_only_repository_items_open_the_registry() -> None:
    assert Action.PUSH not in robot_actions([("tag", "create"), ("repository", "pull")])
    assert Action.PUSH in robot_actions([("repository", "push")])
    assert Action.DELETE not in robot_actions([("artifact", "delete"), ("tag", "delete")])
    assert Action.PULL not in robot_actions([("artifact", "read")])
    assert robot_actions([("tag", "create")]) == {Action.CREATE_TAG}


def test_a_denied_item_wins() -> None:
    allow = [("repository", "pull"), ("repository", "push")]
    assert Action.PUSH not in robot_actions(allow, deny=[("repository", "push")])
    assert Action.PULL in robot_actions(allow, deny=[("repository", "push")])


def test_project_scope_for_listing_projects() -> None:
    admin = Principal("admin", PrincipalKind.USER, user_id=1, sysadmin=True)
    assert project_scope(admin, Action.READ_PROJECT) == ProjectScope(everything=True)
    user = Principal("dev", PrincipalKind.USER, user_id=7, group_ids=(3,))
    assert project_scope(user, Action.READ_PROJECT) == ProjectScope(
        public=True, member_roles=frozenset(map(int, Role)), user_id=7, group_ids=(3,)
    )
    robot = Principal("robot$ci", PrincipalKind.ROBOT, robot_id=4)
    assert project_scope(robot, Action.READ_PROJECT) == ProjectScope(public=True, robot_id=4)
    assert project_scope(Principal(None), Action.READ_PROJECT) == ProjectScope(public=True)
    assert roles_with(Action.READ_LOGS) == frozenset(Role) - {Role.LIMITED_GUEST}


def test_project_scope_for_reading_logs_leaves_out_public_projects_and_robots() -> None:
    user = Principal("dev", PrincipalKind.USER, user_id=7)
    scope = project_scope(user, Action.READ_LOGS)
    assert not scope.public
    assert int(Role.LIMITED_GUEST) not in scope.member_roles
    robot = Principal("robot$ci", PrincipalKind.ROBOT, robot_id=4)
    assert project_scope(robot, Action.READ_LOGS) == ProjectScope()
