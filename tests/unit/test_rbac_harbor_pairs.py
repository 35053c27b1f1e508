"""The Harbor vocabulary of the permission matrix agrees with the robot items."""

from __future__ import annotations

import itertools

from registry.rbac import HARBOR_PAIRS, PERMISSIONS, ROBOT_ACCESS, Action, Role, harbor_pairs


def test_every_action_has_harbor_pairs() -> None:
    assert set(HARBOR_PAIRS) == set(Action)
    assert all(HARBOR_PAIRS[a] for a in Action)


def test_each_robot_item_comes_back_from_what_it_grants() -> None:
    for item, grants in ROBOT_ACCESS.items():
        if grants:
            assert item in harbor_pairs(grants), item


def test_stronger_roles_report_more() -> None:
    order = [Role.LIMITED_GUEST, Role.GUEST, Role.DEVELOPER, Role.MAINTAINER, Role.PROJECT_ADMIN]
    reported = [set(harbor_pairs(PERMISSIONS[role])) for role in order]
    assert all(weaker < stronger for weaker, stronger in itertools.pairwise(reported))
