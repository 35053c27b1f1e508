"""The parts of logging in that need no database: the LDAP settings out of the whole
configuration, and the stand-in hash that keeps an unknown account as slow as a real one."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from registry.auth.password import hash_password, verify_password
from registry.services.configuration import with_defaults
from registry.services.identity import _DUMMY_HASH, ldap_config


def test_the_ldap_settings_are_read_out_of_the_whole_configuration() -> None:
    config = with_defaults(
        {
            "auth_mode": "ldap_auth",
            "ldap_url": "ldaps://ldap.example",
            "ldap_base_dn": "dc=example,dc=com",
            "ldap_search_password": "bind-secret",
            "ldap_uid": "sAMAccountName",
        }
    )
    ldap = ldap_config(config)
    assert (ldap.host, ldap.port, ldap.secure) == ("ldap.example", 636, True)
    assert ldap.ldap_uid == "sAMAccountName"
    assert ldap.ldap_search_password is not None
    assert ldap.ldap_search_password.get_secret_value() == "bind-secret"
    # Harbor's defaults for the rest are valid LDAP settings.
    assert (ldap.ldap_scope, ldap.ldap_timeout, ldap.ldap_group_attribute_name) == (2, 5, "cn")


def test_without_a_server_there_are_no_ldap_settings() -> None:
    with pytest.raises(ValidationError, match="ldap_url names no host"):
        ldap_config(with_defaults({"ldap_base_dn": "dc=x"}))


def test_the_stand_in_hash_costs_what_a_real_one_does() -> None:
    real = hash_password("Harbor12345").split("$")
    dummy = _DUMMY_HASH.split("$")
    # Same scheme and scrypt parameters, salt and key of the same sizes.
    assert dummy[:4] == real[:4]
    assert [len(base64.b64decode(part)) for part in dummy[4:]] == [
        len(base64.b64decode(part)) for part in real[4:]
    ]
    assert not verify_password("Harbor12345", _DUMMY_HASH)
