"""Webhook policies as the API receives them: what is stored, what is refused and why; the
target as the API shows it; the backoff between delivery attempts."""

from __future__ import annotations

from typing import Any

import pytest

from registry.services.errors import WebhookPolicyInvalid
from registry.services.webhook import (
    RETRY_DELAY_CAP_SECONDS,
    _where,
    public_target,
    retry_delay,
    validate_policy,
)


def policy(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "ci",
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": "https://hooks.example/berth"}],
    }
    body.update(fields)
    return body


def target(**fields: Any) -> dict[str, Any]:
    return policy(targets=[{"address": "https://hooks.example/berth", **fields}])


def test_a_minimal_policy_gets_its_defaults() -> None:
    assert validate_policy(policy(name="  ci  ")) == {
        "name": "ci",
        "description": "",
        "enabled": True,
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [
            {
                "type": "http",
                "address": "https://hooks.example/berth",
                "auth_header": "",
                "skip_cert_verify": False,
                "payload_format": "Default",
            }
        ],
    }


def test_event_types_are_kept_once_in_the_order_given() -> None:
    fields = validate_policy(
        policy(event_types=["PULL_ARTIFACT", "PUSH_ARTIFACT", "PULL_ARTIFACT"])
    )
    assert fields["event_types"] == ["PULL_ARTIFACT", "PUSH_ARTIFACT"]


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        # Credentials, query and fragment are dropped, as Harbor does against SSRF tricks.
        ("https://user:pw@hooks.example:8443/a/b?x=1#f", "https://hooks.example:8443/a/b"),
        ("  http://10.0.0.5/hook  ", "http://10.0.0.5/hook"),
        ("http://[2001:db8::1]:9000/", "http://[2001:db8::1]:9000/"),
    ],
)
def test_a_target_address_keeps_scheme_host_port_and_path(address: str, stored: str) -> None:
    fields = validate_policy(policy(targets=[{"address": address}]))
    assert fields["targets"][0]["address"] == stored


def test_slack_and_cloudevents_targets() -> None:
    slack = validate_policy(policy(targets=[{"type": "slack", "address": "https://hooks.slack"}]))
    assert slack["targets"][0]["payload_format"] == ""
    cloud = validate_policy(target(payload_format="CloudEvents", skip_cert_verify=True))
    assert cloud["targets"][0]["payload_format"] == "CloudEvents"
    assert cloud["targets"][0]["skip_cert_verify"] is True


def test_an_update_keeps_what_it_leaves_out() -> None:
    current = validate_policy(policy(description="pushes", enabled=False))
    current["targets"][0]["auth_header"] = "Bearer kept"
    updated = validate_policy({"event_types": ["DELETE_ARTIFACT"]}, current)
    assert (updated["name"], updated["description"]) == ("ci", "pushes")
    assert updated["enabled"] is False
    assert updated["event_types"] == ["DELETE_ARTIFACT"]
    # A target sent back without its (never shown) auth header keeps it...
    again = validate_policy({"targets": [{"address": "https://hooks.example/berth"}]}, current)
    assert again["targets"][0]["auth_header"] == "Bearer kept"
    # ...one of another address or kind does not inherit it, and an explicit one replaces it.
    other = validate_policy({"targets": [{"address": "https://other.example/"}]}, current)
    assert other["targets"][0]["auth_header"] == ""
    slack = validate_policy(
        {"targets": [{"type": "slack", "address": "https://hooks.example/berth"}]}, current
    )
    assert slack["targets"][0]["auth_header"] == ""
    cleared = validate_policy(
        {"targets": [{"address": "https://hooks.example/berth", "auth_header": None}]}, current
    )
    assert cleared["targets"][0]["auth_header"] == ""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": None}, "name is required"),
        ({"name": "   "}, "name is required"),
        ({"name": 5}, "name must be a string"),
        ({"name": "n" * 257}, "name is longer than 256 characters"),
        ({"name": "a\0b"}, "name must not contain NUL"),
        ({"name": "\ud800"}, "name is not valid Unicode"),
        ({"description": "d" * 4097}, "description is longer than 4096"),
        ({"enabled": "yes"}, "enabled must be a boolean"),
        ({"event_types": []}, "event_types must be a non-empty list"),
        ({"event_types": "PUSH_ARTIFACT"}, "event_types must be a non-empty list"),
        ({"event_types": ["PUSH_IMAGE"]}, "unsupported event type 'PUSH_IMAGE'"),
        ({"targets": []}, "targets must be a non-empty list"),
        ({"targets": [{"address": "https://a.example/"}] * 17}, "at most 16 targets"),
        ({"targets": ["https://a.example/"]}, "each target must be an object"),
        ({"targets": [{"type": "email", "address": "a@b"}]}, "unsupported target type 'email'"),
        ({"targets": [{"address": ""}]}, "needs an address"),
        ({"targets": [{"address": 42}]}, "needs an address"),
    ],
)
def test_invalid_policies_say_why(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(WebhookPolicyInvalid, match=reason):
        validate_policy(policy(**body))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("ftp://hooks.example/", "must be an http:// or https:// URL"),
        ("hooks.example/berth", "must be an http:// or https:// URL"),
        ("https:///path-only", "must be an http:// or https:// URL"),
        ("https://hooks.example:99999/", "not a valid URL"),
        ("https://hooks.example/a b", "not a valid URL"),
        ("https://hooks.example/\x07", "not a valid URL"),
        ("https://" + "a" * 2048 + ".example/", "not a valid URL"),
        ("https://[::1/", "not a valid URL"),
        ("https://hooks.example/\0", "address must not contain NUL"),
    ],
)
def test_invalid_addresses_are_refused(address: str, reason: str) -> None:
    with pytest.raises(WebhookPolicyInvalid, match=reason):
        validate_policy(policy(targets=[{"address": address}]))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"payload_format": "XML"}, "unsupported payload format 'XML'"),
        ({"skip_cert_verify": "false"}, "skip_cert_verify must be a boolean"),
        ({"auth_header": 5}, "auth_header must be a string"),
        ({"auth_header": "x" * 8193}, "auth_header must be a string"),
        ({"auth_header": "Bearer a\r\nX-Evil: 1"}, "single line of printable ASCII"),
        ({"auth_header": "Bearer \u00e9"}, "single line of printable ASCII"),
    ],
)
def test_invalid_target_settings_are_refused(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(WebhookPolicyInvalid, match=reason):
        validate_policy(target(**fields))


def test_a_slack_target_takes_no_payload_format() -> None:
    slack = {"type": "slack", "address": "https://hooks.slack/x"}
    with pytest.raises(WebhookPolicyInvalid, match="not allowed for slack targets"):
        validate_policy(policy(targets=[{**slack, "payload_format": "CloudEvents"}]))
    assert validate_policy(policy(targets=[{**slack, "payload_format": "Default"}]))


def test_the_api_never_shows_the_auth_header() -> None:
    stored = {
        "type": "http",
        "address": "https://hooks.example/berth",
        "auth_header": "sealed:secret",
        "skip_cert_verify": True,
        "payload_format": "CloudEvents",
    }
    assert public_target(stored) == {
        "type": "http",
        "address": "https://hooks.example/berth",
        "skip_cert_verify": True,
        "payload_format": "CloudEvents",
    }
    assert public_target({}) == {
        "type": "http",
        "address": "",
        "skip_cert_verify": False,
        "payload_format": "",
    }


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [retry_delay(n, 2.0) for n in (0, 1, 2, 3, 4)] == [2.0, 2.0, 4.0, 8.0, 16.0]
    assert retry_delay(30, 2.0) == RETRY_DELAY_CAP_SECONDS == 300.0


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/secret", "https://hooks.slack.com"),
        ("http://user:pw@10.0.0.5:8080/hook?token=x", "http://10.0.0.5:8080"),
        ("http://[2001:db8::1]:9000/", "http://[2001:db8::1]:9000"),
    ],
)
def test_delivery_logs_name_the_endpoint_without_its_secrets(address: str, shown: str) -> None:
    assert _where(address) == shown
