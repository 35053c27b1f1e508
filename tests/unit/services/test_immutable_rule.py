"""An immutable tag rule as Harbor's API sends it: the stored fields, what an update keeps,
and every refusal."""

from __future__ import annotations

from typing import Any, cast

import asyncpg
import pytest

from registry.services.errors import InvalidRequest
from registry.services.immutable_rule import rule_fields

TAGS = [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}]
REPOSITORIES = {
    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
}


def body(**fields: Any) -> dict[str, Any]:
    return {"tag_selectors": TAGS, "scope_selectors": REPOSITORIES, **fields}


def stored(**fields: Any) -> asyncpg.Record:
    row = {
        "disabled": True,
        "priority": 3,
        "tag_selectors": [{"kind": "doublestar", "decoration": "excludes", "pattern": "dev-*"}],
        "scope_selectors": REPOSITORIES,
        **fields,
    }
    return cast(asyncpg.Record, row)


def test_a_new_rule_gets_its_defaults() -> None:
    assert rule_fields(body(action="immutable", template="immutable_template"), None) == {
        "disabled": False,
        "priority": 0,
        "tag_selectors": TAGS,
        "scope_selectors": REPOSITORIES,
    }


def test_an_update_may_send_only_what_changes() -> None:
    fields = rule_fields({"disabled": False}, stored())
    assert fields == {
        "disabled": False,
        "priority": 3,
        "tag_selectors": [{"kind": "doublestar", "decoration": "excludes", "pattern": "dev-*"}],
        "scope_selectors": REPOSITORIES,
    }
    assert rule_fields(body(), stored())["tag_selectors"] == TAGS


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"action": "mutable"}, "action must be 'immutable'"),
        ({"template": "retain"}, "template must be 'immutable_template'"),
        ({"disabled": "no"}, "disabled must be a boolean"),
        ({"priority": True}, "priority must be an integer"),
        ({"priority": "1"}, "priority must be an integer"),
        ({"priority": 2**31}, "priority must be an integer"),
        ({"tag_selectors": []}, "tag_selectors"),
        ({"scope_selectors": {}}, "scope_selectors"),
    ],
)
def test_invalid_rules_say_why(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequest, match=reason):
        rule_fields(body(**fields), None)


def test_the_largest_priorities_fit() -> None:
    assert rule_fields(body(priority=2**31 - 1), None)["priority"] == 2**31 - 1
    assert rule_fields(body(priority=-(2**31 - 1)), None)["priority"] == -(2**31 - 1)
