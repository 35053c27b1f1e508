from __future__ import annotations

import pytest

from registry.portal.forms import Form
from registry.portal.pages.webhooks import policy_body
from registry.services.errors import WebhookPolicyInvalid
from registry.services.webhook import validate_policy


def test_the_new_webhook_form_is_a_policy_the_service_accepts() -> None:
    form = Form(
        {
            "name": ["ci"],
            "address": ["https://hooks.example/ci"],
            "event_type": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
            "auth_header": ["Bearer abc"],
            "skip_cert_verify": ["on"],
        }
    )
    fields = validate_policy(policy_body(form))
    assert fields["event_types"] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"]
    target = fields["targets"][0]
    assert target["auth_header"] == "Bearer abc"
    assert target["skip_cert_verify"] is True
    assert target["address"] == "https://hooks.example/ci"


def test_a_webhook_without_events_is_refused() -> None:
    form = Form({"name": ["ci"], "address": ["https://hooks.example/ci"]})
    with pytest.raises(WebhookPolicyInvalid, match="event_types"):
        validate_policy(policy_body(form))
