"""Immutable tag rules through registry.services.immutable_rule."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, Match, Term
from registry.rbac import ProjectRef
from registry.services import immutable_rule
from registry.services import project as project_service
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ResourceExists, RuleUnknown
from registry.services.project import find_by_id
from tests.integration.services.conftest import audit_lines

RULE = {
    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
    "scope_selectors": {
        "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
    },
}


async def _project(backends: Backends, admin: Principal, name: str) -> ProjectRef:
    project = await find_by_id(
        backends.db, await project_service.create_project(backends, admin, name, {})
    )
    assert project is not None
    return project


async def test_rules_belong_to_their_project(backends: Backends, admin: Principal) -> None:
    frozen = await _project(backends, admin, "frozen")
    other = await _project(backends, admin, "other")
    rule_id = await immutable_rule.create_rule(backends, admin, frozen, RULE)
    with pytest.raises(ResourceExists):
        await immutable_rule.create_rule(backends, admin, frozen, RULE)
    with pytest.raises(InvalidRequest):
        await immutable_rule.create_rule(backends, admin, frozen, {**RULE, "action": "mutable"})
    with pytest.raises(RuleUnknown):
        await immutable_rule.get_rule(backends, other, rule_id)
    await immutable_rule.update_rule(backends, admin, frozen, rule_id, {"disabled": True})
    rows, total = await immutable_rule.list_rules(
        backends, frozen, ListQuery({"disabled": Term(Match.EXACT, ("true",))})
    )
    assert (total, rows[0]["tag_selectors"]) == (1, RULE["tag_selectors"])
    with pytest.raises(RuleUnknown):
        await immutable_rule.delete_rule(backends, admin, other, rule_id)
    await immutable_rule.delete_rule(backends, admin, frozen, rule_id)
    assert [line for line in await audit_lines(backends) if line[1] == "immutable_rule"] == [
        ("create", "immutable_rule", f"frozen:{rule_id}", "admin"),
        ("update", "immutable_rule", f"frozen:{rule_id}", "admin"),
        ("delete", "immutable_rule", f"frozen:{rule_id}", "admin"),
    ]
