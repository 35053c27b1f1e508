"""Webhook targets as they are stored: the auth header sealed, once."""

from __future__ import annotations

import os

from registry.services.secret_storage import WEBHOOK_AUTH_HEADER, seal_target
from registry.services.secrets import SecretBox, is_sealed

BOX = SecretBox(os.urandom(32))


def test_a_targets_auth_header_is_sealed_for_webhooks() -> None:
    target = {"type": "http", "address": "https://hooks.example/", "auth_header": "Bearer s3cret"}
    sealed = seal_target(BOX, target)
    assert is_sealed(sealed["auth_header"])
    assert "s3cret" not in sealed["auth_header"]
    assert BOX.reveal(sealed["auth_header"], WEBHOOK_AUTH_HEADER) == "Bearer s3cret"
    assert {k: v for k, v in sealed.items() if k != "auth_header"} == {
        "type": "http",
        "address": "https://hooks.example/",
    }
    # The caller's target is left as it was.
    assert target["auth_header"] == "Bearer s3cret"


def test_a_sealed_header_is_not_sealed_again() -> None:
    once = seal_target(BOX, {"auth_header": "Bearer s3cret"})
    assert seal_target(BOX, once) == once


def test_a_target_without_a_header_is_kept_as_it_is() -> None:
    for target in ({"address": "https://a/"}, {"auth_header": ""}, {"auth_header": None}):
        assert seal_target(BOX, target) is target
