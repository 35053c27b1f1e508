"""System configuration with Harbor's keys: what a change may hold and what GET shows."""

from __future__ import annotations

from typing import Any

import pytest

from registry.services.configuration import KEYS, for_display, validate, with_defaults
from registry.services.errors import ConfigurationInvalid


def test_values_are_stored_in_their_own_types() -> None:
    assert validate(
        {
            "auth_mode": "ldap_auth",
            "self_registration": "TRUE",
            "read_only": False,
            "token_expiration": "45",
            "ldap_scope": 1,
            "ldap_url": "ldaps://ldap.example",
        }
    ) == {
        "auth_mode": "ldap_auth",
        "self_registration": True,
        "read_only": False,
        "token_expiration": 45,
        "ldap_scope": 1,
        "ldap_url": "ldaps://ldap.example",
    }
    assert validate({}) == {}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"auth_mod": "db_auth"}, "unknown configuration item 'auth_mod'"),
        ({"auth_mode": "uaa_auth"}, "auth_mode must be one of db_auth, ldap_auth, oidc_auth"),
        ({"project_creation_restriction": "nobody"}, "must be one of everyone, adminonly"),
        ({"read_only": "yes"}, "read_only must be a boolean"),
        ({"read_only": 1}, "read_only must be a boolean"),
        ({"token_expiration": True}, "token_expiration must be an integer"),
        ({"token_expiration": "thirty"}, "token_expiration must be an integer"),
        ({"token_expiration": 1.5}, "token_expiration must be an integer"),
        ({"ldap_url": 5}, "ldap_url must be a string"),
    ],
)
def test_invalid_values_say_why(values: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigurationInvalid, match=reason):
        validate(values)


def test_every_default_is_a_valid_value() -> None:
    defaults = with_defaults({})
    assert set(defaults) == set(KEYS)
    assert validate(defaults) == defaults
    assert defaults["auth_mode"] == "db_auth"
    assert with_defaults({"read_only": True, "gone": 1})["read_only"] is True
    assert "gone" not in with_defaults({"gone": 1})


def test_secrets_are_never_shown() -> None:
    values = with_defaults({"ldap_search_password": "bind-secret", "ldap_uid": "mail"})
    shown = for_display(values)
    assert "ldap_search_password" not in shown
    assert "bind-secret" not in repr(shown)
    assert shown["ldap_uid"] == {"value": "mail", "editable": True}
    assert set(shown) == {name for name, key in KEYS.items() if not key.secret}
