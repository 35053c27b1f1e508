"""The LDAP settings as Harbor names them, and comparing DNs; no directory is asked here."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from registry.auth.ldap import LdapConfig, normalize_dn


def config(**values: object) -> LdapConfig:
    return LdapConfig.model_validate({"ldap_url": "ldap.example", "ldap_base_dn": "dc=x", **values})


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("ldap.example", ("ldap://ldap.example", "ldap.example", 389, False)),
        ("ldap.example:1389", ("ldap://ldap.example:1389", "ldap.example", 1389, False)),
        ("  LDAPS://ldap.example  ", ("LDAPS://ldap.example", "ldap.example", 636, True)),
        ("ldaps://[2001:db8::5]:6360", ("ldaps://[2001:db8::5]:6360", "2001:db8::5", 6360, True)),
    ],
)
def test_the_server_address(url: str, where: tuple[str, str, int, bool]) -> None:
    found = config(ldap_url=url)
    assert (found.ldap_url, found.host, found.port, found.secure) == where


def test_an_address_may_not_carry_credentials() -> None:
    with pytest.raises(ValidationError, match="must not carry credentials"):
        config(ldap_url="ldap://cn=admin:secret@ldap.example")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("", ""),
        ("objectClass=person", "(objectClass=person)"),
        (" (objectClass=person) ", "(objectClass=person)"),
        ("(&(objectClass=person)(!(uid=svc-*)))", "(&(objectClass=person)(!(uid=svc-*)))"),
        # Parentheses inside a value are escaped, so they do not count as structure.
        (r"(cn=team \28eu\29)", r"(cn=team \28eu\29)"),
    ],
)
def test_a_filter_is_one_parenthesised_filter(given: str, stored: str) -> None:
    assert config(ldap_filter=given).ldap_filter == stored


@pytest.mark.parametrize("given", ["(a=b)(c=d)", "objectClass=person)(uid=*", "(a=b", ")a=b("])
def test_a_filter_that_could_widen_the_search_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="LDAP filter"):
        config(ldap_filter=given)


@pytest.mark.parametrize(
    "name", ["uid", "sAMAccountName", "x-custom-1", "0.9.2342.19200300.100.1.1"]
)
def test_attribute_names_and_oids(name: str) -> None:
    assert config(ldap_uid=f" {name} ").ldap_uid == name


@pytest.mark.parametrize("name", ["uid=*", "1uid", "ü", "1..2", "cn mail"])
def test_other_attribute_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="not an LDAP attribute name"):
        config(ldap_uid=name)


def test_the_membership_attribute_may_be_empty_to_always_search_groups() -> None:
    assert config(ldap_group_membership_attribute="").ldap_group_membership_attribute == ""


def test_group_searches_default_to_the_user_base_and_the_usual_group_classes() -> None:
    plain = config()
    assert plain.group_base_dn == "dc=x"
    assert "(objectClass=groupOfNames)" in plain.group_filter
    assert "(objectClass=posixGroup)" in plain.group_filter
    own = config(ldap_group_base_dn="ou=groups,dc=x", ldap_group_search_filter="objectClass=group")
    assert (own.group_base_dn, own.group_filter) == ("ou=groups,dc=x", "(objectClass=group)")


def test_harbors_ping_name_for_the_timeout_is_accepted() -> None:
    assert config(ldap_connection_timeout=9).ldap_timeout == 9


def test_the_search_password_is_never_shown() -> None:
    found = config(ldap_search_dn="cn=svc,dc=x", ldap_search_password="bind-secret")
    assert "bind-secret" not in repr(found)
    assert found.ldap_search_password is not None
    assert found.ldap_search_password.get_secret_value() == "bind-secret"


@pytest.mark.parametrize(
    ("dn", "normal"),
    [
        ("CN=Admins, OU=Groups,DC=Example,DC=com", "cn=admins,ou=groups,dc=example,dc=com"),
        ("uid=dev,dc=x", "uid=dev,dc=x"),
        # Not a DN at all: still compared case-insensitively.
        ("  Not A DN  ", "not a dn"),
    ],
)
def test_dns_are_compared_in_a_normal_form(dn: str, normal: str) -> None:
    assert normalize_dn(dn) == normal
