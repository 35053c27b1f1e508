from __future__ import annotations

import pytest

from registry.portal.forms import Form
from registry.portal.pages.retention_tab import rule_form, rule_json, rule_text, schedule_of
from registry.services import retention
from registry.services.errors import RetentionPolicyInvalid


def _form(**fields: str) -> Form:
    return Form({key: [value] for key, value in fields.items()})


def _parsed(form: Form, value: int) -> retention.Rule:
    spec = retention.parse_policy({"rules": [rule_json(form, value)]})
    return spec.rules[0]


def test_a_posted_rule_is_one_the_service_accepts_and_fills_the_edit_form_again() -> None:
    posted = _form(
        template="nDaysSinceLastPull",
        value="7",
        repository_decoration="repoExcludes",
        repositories="tmp/**",
        tag_decoration="matches",
        tags="release-*",
    )
    rule = _parsed(posted, 7)
    assert rule.template == "nDaysSinceLastPull"
    assert rule.value == 7
    assert rule.repository_selectors[0].decoration == "repoExcludes"
    assert not rule.tag_selectors[0].untagged  # the box was not ticked
    again = rule_form(rule)
    for name in ("template", "value", "repository_decoration", "repositories", "tags"):
        assert again.get(name) == posted.get(name), name
    assert not again.flag("untagged")
    text = rule_text(rule)
    assert text["retains"] == "Retain pulled within the last 7 days"
    assert text["repositories"] == "excluding tmp/**"
    assert text["tags"] == "matching release-*"


def test_always_takes_no_count_and_empty_patterns_mean_everything() -> None:
    rule = _parsed(_form(template="always", untagged="on"), 0)
    assert rule.to_json()["params"] == {}
    assert rule.tag_selectors[0].pattern == "**"
    assert rule.tag_selectors[0].untagged
    assert rule_form(rule).get("value") == ""
    assert rule_text(rule)["retains"] == "Retain always"


def test_an_unknown_template_is_refused_by_the_service() -> None:
    with pytest.raises(RetentionPolicyInvalid):
        _parsed(_form(template="everything"), 0)


@pytest.mark.parametrize(
    ("cron", "kind"),
    [("", "None"), ("0 0 0 * * *", "Daily"), ("0 0 * * * *", "Hourly"), ("0 5 4 * * 1", "Custom")],
)
def test_a_policy_cron_shows_as_its_schedule_type(cron: str, kind: str) -> None:
    policy = retention.Policy(id=1, project_id=1, rules=(), cron=cron)
    assert schedule_of(policy)["schedule_type"] == kind
    assert schedule_of(policy)["cron"] == cron


def test_no_policy_has_no_schedule() -> None:
    assert schedule_of(None)["schedule_type"] == "None"
