"""Robot permission items as Harbor means them."""

from __future__ import annotations

from registry.rbac import Action, robot_actions


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
