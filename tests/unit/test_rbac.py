"""Robot permission items as Harbor means them, the project scopes lists are cut to, and what
each role, the public and a robot may do in a project."""

from __future__ import annotations

import itertools

from registry.auth.principal import ANONYMOUS, Principal, PrincipalKind
from registry.query import ProjectScope
from registry.rbac import (
    PERMISSIONS,
    PUBLIC_ACTIONS,
    Action,
    ProjectRef,
    Role,
    allowed,
    may_list_catalog,
    project_scope,
    robot_actions,
    roles_with,
    strongest,
)


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


PRIVATE = ProjectRef(id=1, name="team", public=False)
PUBLIC = ProjectRef(id=2, name="library", public=True)
DEV = Principal("dev", PrincipalKind.USER, user_id=7)


def test_the_strongest_of_several_memberships_counts() -> None:
    assert strongest([Role.GUEST, Role.PROJECT_ADMIN, Role.DEVELOPER]) is Role.PROJECT_ADMIN
    assert strongest([Role.LIMITED_GUEST, Role.MAINTAINER, Role.GUEST]) is Role.MAINTAINER
    assert strongest(iter([Role.DEVELOPER, Role.GUEST])) is Role.DEVELOPER
    assert strongest([]) is None


def test_each_role_may_do_everything_a_weaker_one_may() -> None:
    by_strength = [
        Role.LIMITED_GUEST,
        Role.GUEST,
        Role.DEVELOPER,
        Role.MAINTAINER,
        Role.PROJECT_ADMIN,
    ]
    for weaker, stronger in itertools.pairwise(by_strength):
        assert PERMISSIONS[weaker] < PERMISSIONS[stronger]
    assert PERMISSIONS[Role.PROJECT_ADMIN] == frozenset(Action)


def test_what_each_role_adds() -> None:
    assert PERMISSIONS[Role.LIMITED_GUEST] == PUBLIC_ACTIONS
    assert {Action.PULL, Action.READ_PROJECT} <= PUBLIC_ACTIONS
    assert not PUBLIC_ACTIONS & {Action.PUSH, Action.DELETE, Action.READ_MEMBERS}
    assert {Action.PUSH, Action.CREATE_TAG} <= PERMISSIONS[Role.DEVELOPER] - PERMISSIONS[Role.GUEST]
    assert Action.DELETE not in PERMISSIONS[Role.DEVELOPER]
    assert Action.DELETE in PERMISSIONS[Role.MAINTAINER]
    assert Action.MANAGE_MEMBERS not in PERMISSIONS[Role.MAINTAINER]


def test_a_member_may_do_what_the_role_allows() -> None:
    assert allowed(DEV, PRIVATE, Role.DEVELOPER) == PERMISSIONS[Role.DEVELOPER]
    assert allowed(DEV, PRIVATE, None) == frozenset()


def test_anyone_may_pull_from_a_public_project() -> None:
    assert allowed(ANONYMOUS, PUBLIC, None) == PUBLIC_ACTIONS
    assert allowed(ANONYMOUS, PRIVATE, None) == frozenset()
    # A role adds to what the public may do, never takes from it.
    assert allowed(DEV, PUBLIC, Role.LIMITED_GUEST) == PUBLIC_ACTIONS
    assert Action.PUSH in allowed(DEV, PUBLIC, Role.DEVELOPER)


def test_a_robot_holds_its_grants_not_a_role() -> None:
    robot = Principal("robot$team+ci", PrincipalKind.ROBOT, robot_id=4)
    grants = robot_actions([("repository", "push")])
    assert allowed(robot, PRIVATE, Role.PROJECT_ADMIN, grants) == {Action.PUSH}
    assert allowed(robot, PUBLIC, None, grants) == {Action.PUSH} | PUBLIC_ACTIONS
    assert allowed(robot, PRIVATE, None, frozenset()) == frozenset()


def test_a_system_administrator_may_do_everything_everywhere() -> None:
    admin = Principal("admin", PrincipalKind.USER, user_id=1, sysadmin=True)
    assert allowed(admin, PRIVATE, None) == frozenset(Action)
    assert allowed(admin, PRIVATE, None, frozenset()) == frozenset(Action)
    assert may_list_catalog(admin)
    assert not may_list_catalog(DEV)
    assert not may_list_catalog(ANONYMOUS)


def test_robots_list_the_catalog_of_what_they_may_read() -> None:
    robot = Principal("robot$ci", PrincipalKind.ROBOT, robot_id=7)
    assert may_list_catalog(robot)
