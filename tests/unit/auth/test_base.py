"""The authenticator contract: what an identity carries, and that the LDAP backend keeps to it."""

from __future__ import annotations

import pytest

from registry.auth.base import AuthBackendError, Authenticator, Identity
from registry.auth.ldap import LdapAuthenticator, LdapConfig


def test_an_identity_needs_only_a_name() -> None:
    person = Identity("dev")
    assert (person.email, person.realname, person.groups) == (None, None, ())
    assert (person.sysadmin, person.external_id) == (False, None)


def test_the_ldap_backend_is_an_authenticator() -> None:
    backend = LdapAuthenticator(LdapConfig(ldap_url="ldap.example", ldap_base_dn="dc=x"))
    assert isinstance(backend, Authenticator)
    assert backend.name == "ldap"


async def test_an_empty_password_or_unusable_name_never_reaches_the_directory() -> None:
    # An LDAP bind without a password is an anonymous bind that succeeds: it must not be sent.
    # Nothing listens at this address, so asking the directory would raise AuthBackendError.
    backend = LdapAuthenticator(LdapConfig(ldap_url="ldap://127.0.0.1:1", ldap_base_dn="dc=x"))
    assert await backend.authenticate("dev", "") is None
    assert await backend.authenticate("", "Passw0rd") is None
    assert await backend.authenticate("d" * 257, "Passw0rd") is None
    # The contrast: a name and a password are taken to the directory, which is not there.
    with pytest.raises(AuthBackendError):
        await backend.authenticate("dev", "Passw0rd")
