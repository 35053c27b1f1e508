"""Tag retention judged on in-memory artifacts: templates, selectors, OR of rules, untagged
artifacts, immutable tags, and the validation of policies as the API receives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry.services import immutability
from registry.services.errors import RetentionPolicyInvalid, RuleConflict
from registry.services.retention import (
    MAX_RULES,
    TEMPLATES,
    Candidate,
    Rule,
    Selector,
    judge,
    metadata,
    parse_policy,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ALL_REPOS = (Selector("repoMatches", "**"),)
ALL_TAGS = (Selector("matches", "**", '{"untagged":false}'),)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def artifact(
    n: int, *tags: str, pushed: float | None = None, pulled: float | None = None
) -> Candidate:
    """Artifact ``n``, pushed ``pushed`` days ago (default: 100 - n, so a higher n is newer)."""
    return Candidate(
        id=n,
        digest=f"sha256:{n:064x}",
        tags=tags,
        pushed_at=days_ago(100 - n if pushed is None else pushed),
        pulled_at=None if pulled is None else days_ago(pulled),
    )


def rule(
    template: str,
    value: int = 0,
    *,
    rule_id: int = 1,
    tags: tuple[Selector, ...] = ALL_TAGS,
    repos: tuple[Selector, ...] = ALL_REPOS,
    disabled: bool = False,
) -> Rule:
    return Rule(rule_id, template, value, tags, repos, disabled)


def outcome(verdicts: list[Any]) -> dict[int, str]:
    """Artifact id → retain / immutable / delete."""
    return {
        v.candidate.id: "retain" if v.retained_by else "immutable" if v.immutable else "delete"
        for v in verdicts
    }


def retained(rules: list[Rule], candidates: list[Candidate], path: str = "app") -> set[int]:
    return {v.candidate.id for v in judge(rules, path, candidates, NOW) if v.retained_by}


FIVE = [artifact(n, f"v{n}") for n in range(1, 6)]


# --- templates -----------------------------------------------------------------------------


def test_latest_pushed_keeps_the_k_most_recently_pushed() -> None:
    verdicts = judge([rule("latestPushedK", 2)], "app", FIVE, NOW)
    assert outcome(verdicts) == {5: "retain", 4: "retain", 3: "delete", 2: "delete", 1: "delete"}
    assert [v.candidate.id for v in verdicts] == [5, 4, 3, 2, 1]  # most recent first
    assert verdicts[0].retained_by == (1,)
    assert retained([rule("latestPushedK", 0)], FIVE) == set()
    assert retained([rule("latestPushedK", 10)], FIVE) == {1, 2, 3, 4, 5}


def test_latest_pulled_ranks_never_pulled_last() -> None:
    candidates = [
        artifact(1, "a", pulled=1),
        artifact(2, "b"),
        artifact(3, "c", pulled=5),
        artifact(4, "d", pulled=0.5),
    ]
    assert retained([rule("latestPulledN", 2)], candidates) == {4, 1}
    # Fewer pulled than N: the never-pulled still count, newest push first.
    assert retained([rule("latestPulledN", 4)], candidates) == {1, 2, 3, 4}


def test_latest_active_takes_the_later_of_push_and_pull() -> None:
    candidates = [
        artifact(1, "old-but-pulled", pushed=50, pulled=0.1),
        artifact(2, "new", pushed=1),
        artifact(3, "middle", pushed=10, pulled=9),
    ]
    assert retained([rule("latestActiveK", 2)], candidates) == {1, 2}


@pytest.mark.parametrize("template", ["nDaysSinceLastPush", "lastXDays"])
def test_pushed_within_days(template: str) -> None:
    candidates = [
        artifact(1, "a", pushed=0.5),
        artifact(2, "b", pushed=6.9),
        artifact(3, "c", pushed=7.1),
    ]
    assert retained([rule(template, 7)], candidates) == {1, 2}
    assert retained([rule(template, 0)], candidates) == set()


def test_pulled_within_days_never_keeps_the_never_pulled() -> None:
    candidates = [
        artifact(1, "a", pushed=0, pulled=2),
        artifact(2, "b", pushed=0),
        artifact(3, "c", pushed=0, pulled=30),
    ]
    assert retained([rule("nDaysSinceLastPull", 7)], candidates) == {1}


def test_always_retains_what_its_selectors_select() -> None:
    assert retained([rule("always")], FIVE) == {1, 2, 3, 4, 5}
    only_v1 = (Selector("matches", "v1"),)
    assert outcome(judge([rule("always", tags=only_v1)], "app", FIVE, NOW)) == {
        5: "delete",
        4: "delete",
        3: "delete",
        2: "delete",
        1: "retain",
    }


# --- OR of rules, selectors ---------------------------------------------------------------------


def test_rules_are_or_ed() -> None:
    candidates = [
        artifact(1, "release-1.0", pushed=300),
        artifact(2, "release-1.1", pushed=200),
        artifact(3, "nightly-1", pushed=3),
        artifact(4, "nightly-2", pushed=1.5),
        artifact(5, "nightly-3", pushed=1),
    ]
    releases = rule("always", rule_id=1, tags=(Selector("matches", "release-*"),))
    newest_nightly = rule("latestPushedK", 1, rule_id=2, tags=(Selector("matches", "nightly-*"),))
    recent = rule("nDaysSinceLastPush", 2, rule_id=3)  # everything of the last two days
    verdicts = judge([releases, newest_nightly, recent], "app", candidates, NOW)
    assert outcome(verdicts) == {5: "retain", 4: "retain", 3: "delete", 2: "retain", 1: "retain"}
    by = {v.candidate.id: v.retained_by for v in verdicts}
    assert by[5] == (2, 3)
    assert by[4] == (3,)


def test_tag_selectors_judge_artifacts_by_any_tag() -> None:
    candidates = [artifact(1, "v1", "latest"), artifact(2, "v2"), artifact(3, "dev-3")]
    # One matching tag is enough: the artifact keeps all its tags.
    assert retained([rule("always", tags=(Selector("matches", "latest"),))], candidates) == {1}
    # excludes selects an artifact one of whose tags does not match.
    excludes_v = (Selector("excludes", "v*"),)
    assert retained([rule("always", tags=excludes_v)], candidates) == {1, 3}
    # Several selectors must all select.
    both = (Selector("matches", "v*"), Selector("excludes", "v2"))
    assert retained([rule("always", tags=both)], candidates) == {1}
    braces = (Selector("matches", "{v1,dev-*}"),)
    assert retained([rule("always", tags=braces)], candidates) == {1, 3}


def test_count_applies_to_what_the_selectors_selected() -> None:
    candidates = [artifact(n, f"{'prod' if n % 2 else 'dev'}-{n}") for n in range(1, 7)]
    keep_two_prod = rule("latestPushedK", 2, tags=(Selector("matches", "prod-*"),))
    assert retained([keep_two_prod], candidates) == {5, 3}


def test_scope_selectors_see_the_path_without_the_project() -> None:
    only_web = rule("always", repos=(Selector("repoMatches", "team/web*"),))
    assert judge([only_web], "team/web-ui", FIVE, NOW) != []
    assert judge([only_web], "team/api", FIVE, NOW) == []  # not judged at all: nothing deleted
    not_tmp = rule("always", repos=(Selector("repoExcludes", "tmp/**"),))
    assert judge([not_tmp], "tmp/x/y", FIVE, NOW) == []
    assert retained([not_tmp], FIVE, "team/api") == {1, 2, 3, 4, 5}
    anywhere = rule("always", repos=(Selector("repoMatches", "**/web"),))
    assert judge([anywhere], "web", FIVE, NOW) != []
    assert judge([anywhere], "a/b/web", FIVE, NOW) != []


def test_disabled_rules_judge_nothing() -> None:
    assert judge([rule("latestPushedK", 1, disabled=True)], "app", FIVE, NOW) == []
    # In a repository another rule applies to, a disabled rule retains nothing either.
    verdicts = judge(
        [rule("always", rule_id=1, disabled=True), rule("latestPushedK", 1, rule_id=2)],
        "app",
        FIVE,
        NOW,
    )
    assert outcome(verdicts) == {5: "retain", 4: "delete", 3: "delete", 2: "delete", 1: "delete"}


def test_a_repository_judged_by_some_rule_loses_what_no_rule_retains() -> None:
    # Harbor: rules retain; in a repository in scope, what no rule retains goes, whether or
    # not a rule's tag selectors selected it.
    only_release = rule("always", tags=(Selector("matches", "release-*"),))
    candidates = [artifact(1, "release-1"), artifact(2, "feature-x")]
    assert outcome(judge([only_release], "app", candidates, NOW)) == {2: "delete", 1: "retain"}


# --- untagged artifacts ---------------------------------------------------------------------


UNTAGGED = [artifact(1), artifact(2, "v2"), artifact(3), artifact(4, "v4")]


def test_untagged_artifacts_count_when_the_selector_says_so() -> None:
    with_untagged = (Selector("matches", "**", json.dumps({"untagged": True})),)
    assert retained([rule("latestPushedK", 2, tags=with_untagged)], UNTAGGED) == {3, 4}
    assert retained([rule("always", tags=with_untagged)], UNTAGGED) == {1, 2, 3, 4}


def test_untagged_artifacts_go_when_no_rule_selects_them() -> None:
    without = (Selector("matches", "**", '{"untagged":false}'),)
    verdicts = judge([rule("latestPushedK", 1, tags=without)], "app", UNTAGGED, NOW)
    assert outcome(verdicts) == {4: "retain", 3: "delete", 2: "delete", 1: "delete"}
    assert retained([rule("always", tags=without)], UNTAGGED) == {2, 4}


def test_untagged_defaults_follow_harbor() -> None:
    # No extras: "matches" selects untagged artifacts, "excludes" … selects them too (its
    # flag means "also exclude the untagged"), as Harbor's selector does.
    assert Selector("matches", "**").untagged is True
    assert Selector("excludes", "x").untagged is False
    assert retained([rule("always", tags=(Selector("matches", "v*"),))], UNTAGGED) == {1, 2, 3, 4}
    assert retained([rule("always", tags=(Selector("excludes", "v2"),))], UNTAGGED) == {1, 3, 4}
    skip = (Selector("excludes", "v2", '{"untagged":true}'),)
    assert retained([rule("always", tags=skip)], UNTAGGED) == {4}
    # Extras that parse decide, a missing key meaning false.
    assert Selector("matches", "**", "{}").untagged is False


# --- immutable tags --------------------------------------------------------------------------


def test_immutable_tags_keep_an_artifact_no_rule_retains() -> None:
    immutable_rule = immutability.Rule.from_json(
        7,
        False,
        [{"decoration": "matches", "pattern": "v1"}],
        {"repository": [{"decoration": "repoMatches", "pattern": "**"}]},
    )
    tags = {t for c in FIVE for t in c.tags}
    protected = immutability.protected_tags([immutable_rule], "app", tags)
    verdicts = judge([rule("latestPushedK", 2)], "app", FIVE, NOW, protected)
    assert outcome(verdicts) == {5: "retain", 4: "retain", 3: "delete", 2: "delete", 1: "immutable"}
    assert verdicts[-1].immutable == ("v1",)
    assert not verdicts[-1].delete
    assert [v.candidate.id for v in verdicts if v.delete] == [3, 2]


def test_a_retained_artifact_is_retained_whether_immutable_or_not() -> None:
    verdicts = judge([rule("always")], "app", FIVE, NOW, {"v5"})
    assert all(v.retained_by and not v.immutable for v in verdicts)


# --- policies as the API receives them -------------------------------------------------------


def policy_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "algorithm": "or",
        "rules": [
            {
                "disabled": False,
                "action": "retain",
                "template": "latestPushedK",
                "params": {"latestPushedK": 3},
                "tag_selectors": [
                    {
                        "kind": "doublestar",
                        "decoration": "matches",
                        "pattern": "**",
                        "extras": '{"untagged":true}',
                    }
                ],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}},
        "scope": {"level": "project", "ref": 4},
    }
    body.update(changes)
    return body


def with_rule(**changes: Any) -> dict[str, Any]:
    body = policy_body()
    body["rules"][0].update(changes)
    return body


def test_a_harbor_policy_parses_and_round_trips() -> None:
    spec = parse_policy(policy_body())
    assert spec.project_id == 4
    assert spec.cron == "0 0 0 * * *"
    (only,) = spec.rules
    assert (only.id, only.template, only.value) == (1, "latestPushedK", 3)
    assert only.tag_selectors[0].untagged is True
    stored = only.to_json()
    assert stored["params"] == {"latestPushedK": 3}
    assert stored["tag_selectors"][0]["extras"] == '{"untagged":true}'
    assert Rule.from_json(json.loads(json.dumps(stored))) == only


def test_optional_parts_take_harbor_defaults() -> None:
    spec = parse_policy({"scope": {"level": "project", "ref": 1}})
    assert (spec.rules, spec.cron) == ((), "")
    spec = parse_policy(policy_body(trigger={"kind": "Schedule", "settings": {"cron": ""}}))
    assert spec.cron == ""
    always = with_rule(template="always", params={})
    assert parse_policy(always).rules[0].to_json()["params"] == {}
    # An object for extras is taken and stored as Harbor's JSON string.
    body = policy_body()
    body["rules"][0]["tag_selectors"][0]["extras"] = {"untagged": False}
    selector = parse_policy(body).rules[0].tag_selectors[0]
    assert (selector.extras, selector.untagged) == ('{"untagged":false}', False)
    # A numeric parameter as a string or a whole float (JSON numbers in some clients).
    assert parse_policy(with_rule(params={"latestPushedK": "5"})).rules[0].value == 5
    assert parse_policy(with_rule(params={"latestPushedK": 5.0})).rules[0].value == 5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (with_rule(template="latestPushedX"), "unknown template"),
        (with_rule(template=None), "unknown template"),
        (with_rule(action="delete"), "action"),
        (with_rule(params={}), "params.latestPushedK is required"),
        (with_rule(params={"latestPushedK": -1}), "from 0 to"),
        (with_rule(params={"latestPushedK": 40000}), "from 0 to"),
        (with_rule(params={"latestPushedK": "many"}), "from 0 to"),
        (with_rule(params={"latestPushedK": True}), "from 0 to"),
        (with_rule(params=[3]), "params must be an object"),
        (with_rule(disabled="no"), "disabled"),
        (with_rule(tag_selectors=[]), "tag_selectors"),
        (with_rule(tag_selectors=None), "tag_selectors"),
        (
            with_rule(tag_selectors=[{"kind": "regexp", "decoration": "matches", "pattern": "x"}]),
            "kind",
        ),
        (
            with_rule(
                tag_selectors=[{"kind": "doublestar", "decoration": "repoMatches", "pattern": "x"}]
            ),
            "decoration",
        ),
        (
            with_rule(
                tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "[a"}]
            ),
            "unclosed",
        ),
        (
            with_rule(
                tag_selectors=[
                    {"kind": "doublestar", "decoration": "matches", "pattern": "x", "extras": "{"}
                ]
            ),
            "extras",
        ),
        (with_rule(scope_selectors={}), "scope_selectors"),
        (
            with_rule(
                scope_selectors={
                    "project": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "x"}]
                }
            ),
            "scope_selectors",
        ),
        (
            with_rule(
                scope_selectors={
                    "repository": [{"kind": "doublestar", "decoration": "matches", "pattern": "x"}]
                }
            ),
            "decoration",
        ),
        (policy_body(rules="all"), "rules must be a list"),
        (policy_body(rules=[1]), "must be an object"),
        (policy_body(rules=["x"] * (MAX_RULES + 1)), "at most"),
        (policy_body(algorithm="and"), "algorithm"),
        (policy_body(scope={"level": "system", "ref": 0}), "not supported"),
        (policy_body(scope={"level": "project", "ref": 0}), "project id"),
        (policy_body(trigger={"kind": "Event"}), "trigger"),
        (policy_body(trigger={"kind": "Schedule", "settings": {"cron": "every day"}}), "cron"),
        (policy_body(trigger={"kind": "Schedule", "settings": {"cron": "0 0 0 31 2 *"}}), "cron"),
    ],
)
def test_invalid_policies_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(RetentionPolicyInvalid, match=message):
        parse_policy(body)


def test_the_same_rule_twice_is_a_conflict() -> None:
    body = policy_body()
    body["rules"].append(dict(body["rules"][0], id=9))
    with pytest.raises(RuleConflict, match="rule 2 is the same as rule 1"):
        parse_policy(body)
    body["rules"][1]["params"] = {"latestPushedK": 4}
    assert len(parse_policy(body).rules) == 2


def test_metadata_lists_harbor_templates_and_selectors() -> None:
    found = metadata()
    names = [t["rule_template"] for t in found["templates"]]
    assert names[:5] == [
        "latestPushedK",
        "latestPulledN",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "always",
    ]
    assert set(names) == set(TEMPLATES)
    latest = found["templates"][0]
    assert latest == {
        "rule_template": "latestPushedK",
        "display_text": "the most recently pushed # artifacts",
        "action": "retain",
        "params": [{"type": "int", "unit": "COUNT", "required": True}],
    }
    assert found["templates"][4]["params"] == []
    assert found["scope_selectors"] == [
        {
            "display_text": "Repositories",
            "kind": "doublestar",
            "decorations": ["repoMatches", "repoExcludes"],
        }
    ]
    assert found["tag_selectors"] == [
        {"display_text": "Tags", "kind": "doublestar", "decorations": ["matches", "excludes"]}
    ]
