from __future__ import annotations

from typing import Any

from registry.portal.forms import Form
from registry.portal.pages.replication import NEW_RULE, policy_body, policy_form


def _row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": "to-mirror",
        "description": "nightly",
        "src_registry_id": None,
        "dest_registry_id": 4,
        "filters": [
            {"type": "name", "value": "lib/**", "decoration": "matches"},
            {"type": "tag", "value": "v*", "decoration": "matches"},
        ],
        "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}},
        "dest_namespace": "mirror",
        "override": True,
        "replicate_deletion": False,
        "enabled": True,
    }
    row.update(changes)
    return row


def test_the_edit_form_of_a_rule_posts_the_same_rule_back() -> None:
    form = policy_form(_row())
    assert form.get("direction") == "push"
    assert form.get("registry") == "4"
    body = policy_body(form)
    assert body["dest_registry"] == {"id": 4}
    assert body["src_registry"] is None
    assert body["filters"] == [
        {"type": "name", "value": "lib/**"},
        {"type": "tag", "value": "v*", "decoration": "matches"},
    ]
    assert body["trigger"] == {"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}}
    assert body["override"] is True
    assert body["replicate_deletion"] is False
    assert body["enabled"] is True


def test_a_pull_rule_names_its_source_and_a_disabled_one_stays_disabled() -> None:
    form = policy_form(_row(src_registry_id=7, dest_registry_id=None, enabled=False, filters=[]))
    body = policy_body(form)
    assert body["src_registry"] == {"id": 7}
    assert body["dest_registry"] is None
    assert body["enabled"] is False
    assert body["filters"] == []


def test_a_new_rule_starts_enabled_and_overriding() -> None:
    assert NEW_RULE.flag("enabled")
    assert NEW_RULE.flag("override")
    assert policy_body(Form({}))["trigger"] == {"type": "manual"}
