"""The retention a proxy project is created with: Harbor's "7 days since last pull"."""

from __future__ import annotations

from registry.services.proxy_cache import DEFAULT_RETENTION
from registry.services.retention import parse_policy


def test_the_default_retention_keeps_what_was_pulled_in_the_last_seven_days() -> None:
    spec = parse_policy(DEFAULT_RETENTION)
    (rule,) = spec.rules
    assert (rule.template, rule.value) == ("nDaysSinceLastPull", 7)
    assert rule.applies_to("library/alpine")
    assert rule.applies_to("deep/nested/name")
    assert spec.cron == "0 0 0 * * *"
    assert spec.project_id is None
