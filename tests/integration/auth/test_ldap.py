"""The LDAP identity backend against a real slapd (see tests/integration/ldap_server.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from registry.auth.base import AuthBackendError, Authenticator, Identity
from registry.auth.ldap import (
    NESTING_DEPTH,
    LdapAuthenticator,
    LdapConfig,
    find_user,
    ping,
    search_groups,
    search_users,
)
from tests.integration.ldap_server import LdapServer

INJECTIONS = [
    "*",
    "*)(uid=*",
    "alice)(|(uid=*",
    "alice)(uid=*",
    "alic*",
    "*lice",
    "(uid=alice)",
    "alice\\",
    "alice\x00",
    "*)(|(objectClass=*",
]


def login(server: LdapServer, **overrides: object) -> LdapAuthenticator:
    return LdapAuthenticator(server.config(**overrides))


def group_names(identity: Identity | None) -> set[str]:
    assert identity is not None
    return {dn.split(",", 1)[0].removeprefix("cn=") for dn in identity.groups}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) but never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


# -- logging in --------------------------------------------------------------------------------


async def test_authenticator_protocol(ldap_server: LdapServer) -> None:
    authenticator = login(ldap_server)
    assert isinstance(authenticator, Authenticator)
    assert authenticator.name == "ldap"


async def test_alice_logs_in(ldap_server: LdapServer) -> None:
    identity = await login(ldap_server).authenticate("alice", ldap_server.password("alice"))
    assert identity == Identity(
        username="alice",
        email="alice@berth.test",
        realname="Alice L.",  # displayName wins over cn
        groups=(ldap_server.group_dn("developers"),),
        sysadmin=False,
        external_id=ldap_server.dn("alice"),
    )


async def test_login_name_is_the_directory_spelling(ldap_server: LdapServer) -> None:
    identity = await login(ldap_server).authenticate("ALICE", ldap_server.password("alice"))
    assert identity is not None
    assert identity.username == "alice"


async def test_bob_is_admin_through_nested_group(ldap_server: LdapServer) -> None:
    identity = await login(ldap_server).authenticate("bob", ldap_server.password("bob"))
    assert identity is not None
    assert identity.username == "bob"
    assert identity.email == "bob@berth.test"
    assert identity.realname == "Bob Builder"  # no displayName: cn
    assert group_names(identity) == {"ops", "admins"}
    assert identity.sysadmin is True
    assert identity.external_id == ldap_server.dn("bob")


async def test_groups_come_from_memberof_when_present(ldap_server: LdapServer) -> None:
    # The group base names no groups at all, so only memberOf can have found them.
    identity = await login(ldap_server, ldap_group_base_dn=ldap_server.people_dn).authenticate(
        "bob", ldap_server.password("bob")
    )
    assert group_names(identity) == {"ops", "admins"}
    assert identity is not None
    assert identity.sysadmin is True


@pytest.mark.parametrize("attribute", ["", "seeAlso"])
async def test_groups_by_search_without_membership_attribute(
    ldap_server: LdapServer, attribute: str
) -> None:
    authenticator = login(ldap_server, ldap_group_membership_attribute=attribute)
    bob = await authenticator.authenticate("bob", ldap_server.password("bob"))
    assert group_names(bob) == {"ops", "admins"}
    assert bob is not None
    assert bob.sysadmin is True
    alice = await authenticator.authenticate("alice", ldap_server.password("alice"))
    assert group_names(alice) == {"developers"}
    # The search path only looks under the group base.
    elsewhere = login(
        ldap_server,
        ldap_group_membership_attribute=attribute,
        ldap_group_base_dn=ldap_server.people_dn,
    )
    bob = await elsewhere.authenticate("bob", ldap_server.password("bob"))
    assert bob is not None
    assert bob.groups == ()
    assert bob.sysadmin is False


@pytest.mark.parametrize("attribute", ["memberof", ""])
async def test_group_cycle_terminates(ldap_server: LdapServer, attribute: str) -> None:
    identity = await login(ldap_server, ldap_group_membership_attribute=attribute).authenticate(
        "erin", ldap_server.password("erin")
    )
    assert group_names(identity) == {"loop1", "loop2"}


@pytest.mark.parametrize("attribute", ["memberof", ""])
async def test_nesting_depth_is_capped(ldap_server: LdapServer, attribute: str) -> None:
    identity = await login(ldap_server, ldap_group_membership_attribute=attribute).authenticate(
        "frank", ldap_server.password("frank")
    )
    assert group_names(identity) == {f"chain{level}" for level in range(NESTING_DEPTH + 1)}


async def test_sysadmin_follows_admin_dn(ldap_server: LdapServer) -> None:
    bob = await login(ldap_server, ldap_group_admin_dn="").authenticate(
        "bob", ldap_server.password("bob")
    )
    assert bob is not None
    assert bob.sysadmin is False
    # DNs compare regardless of case and spacing.
    alice = await login(
        ldap_server, ldap_group_admin_dn="CN=Developers, OU=groups, DC=berth, DC=test"
    ).authenticate("alice", ldap_server.password("alice"))
    assert alice is not None
    assert alice.sysadmin is True


async def test_special_characters_in_uid(ldap_server: LdapServer) -> None:
    uid = ldap_server.special_uid
    identity = await login(ldap_server).authenticate(uid, ldap_server.password(uid))
    assert identity is not None
    assert identity.username == uid
    assert group_names(identity) == {"developers"}
    assert await login(ldap_server).authenticate(uid, ldap_server.password("alice")) is None


async def test_anonymous_search_bind(ldap_server: LdapServer) -> None:
    authenticator = login(ldap_server, ldap_search_dn="", ldap_search_password=None)
    identity = await authenticator.authenticate("alice", ldap_server.password("alice"))
    assert identity is not None
    assert identity.username == "alice"


# -- refusing ----------------------------------------------------------------------------------


async def test_wrong_password(ldap_server: LdapServer) -> None:
    authenticator = login(ldap_server)
    assert await authenticator.authenticate("alice", "wrong") is None
    assert await authenticator.authenticate("alice", ldap_server.password("bob")) is None


@pytest.mark.parametrize("username", ["alice", "nobody", ""])
async def test_empty_password_is_refused(ldap_server: LdapServer, username: str) -> None:
    assert await login(ldap_server).authenticate(username, "") is None


async def test_unknown_user(ldap_server: LdapServer) -> None:
    assert await login(ldap_server).authenticate("nobody", "whatever") is None
    assert await login(ldap_server).authenticate("", "whatever") is None
    assert await login(ldap_server).authenticate("x" * 1000, "whatever") is None


async def test_several_matches_are_refused(ldap_server: LdapServer) -> None:
    # uid=twin exists in ou=people and in ou=contractors below it.
    assert await login(ldap_server).authenticate("twin", ldap_server.password("twin")) is None
    assert await find_user(ldap_server.config(), "twin") is None


@pytest.mark.parametrize("username", INJECTIONS)
async def test_filter_injection_finds_nobody(ldap_server: LdapServer, username: str) -> None:
    authenticator = login(ldap_server)
    for owner in ("alice", "bob", "carol"):
        assert await authenticator.authenticate(username, ldap_server.password(owner)) is None
    assert await find_user(ldap_server.config(), username) is None
    # A contains-search for the literal text finds only uids that contain it literally (a
    # "*" is a star: the special user's uid has one).
    found = {person.username for person in await search_users(ldap_server.config(), username)}
    assert found == {user.uid for user in ldap_server.users.values() if username in user.uid}
    assert found <= {ldap_server.special_uid}


async def test_ldap_filter_restricts_users(ldap_server: LdapServer) -> None:
    for extra in ("(departmentNumber=eng)", "departmentNumber=eng"):
        config = ldap_server.config(ldap_filter=extra)
        authenticator = LdapAuthenticator(config)
        assert await authenticator.authenticate("carol", ldap_server.password("carol")) is None
        assert await authenticator.authenticate("alice", ldap_server.password("alice"))
        found = {person.username for person in await search_users(config, None)}
        assert "carol" not in found
        assert {"alice", "bob"} <= found
        assert await find_user(config, "carol") is None


async def test_scope(ldap_server: LdapServer) -> None:
    one_level = login(ldap_server, ldap_scope=1)
    assert await one_level.authenticate("dave", ldap_server.password("dave")) is None
    # Only one twin is directly under ou=people.
    twin = await one_level.authenticate("twin", ldap_server.password("twin"))
    assert twin is not None
    assert twin.realname == "Twin One"

    subtree = login(ldap_server, ldap_scope=2)
    dave = await subtree.authenticate("dave", ldap_server.password("dave"))
    assert dave is not None
    assert dave.external_id == ldap_server.dn("dave")

    base = login(ldap_server, ldap_scope=0)
    assert await base.authenticate("alice", ldap_server.password("alice")) is None


# -- the backend failing -----------------------------------------------------------------------


async def test_server_down_is_an_error_not_a_refusal(ldap_server: LdapServer) -> None:
    config = ldap_server.config(ldap_url=f"ldap://127.0.0.1:{_closed_port()}", ldap_timeout=2)
    started = time.monotonic()
    with pytest.raises(AuthBackendError):
        await LdapAuthenticator(config).authenticate("alice", ldap_server.password("alice"))
    with pytest.raises(AuthBackendError, match="cannot talk to LDAP server"):
        await ping(config)
    with pytest.raises(AuthBackendError):
        await search_users(config, None)
    with pytest.raises(AuthBackendError):
        await search_groups(config)
    with pytest.raises(AuthBackendError):
        await find_user(config, "alice")
    assert time.monotonic() - started < 2


async def test_silent_server_times_out(ldap_server: LdapServer, silent_port: int) -> None:
    config = ldap_server.config(ldap_url=f"ldap://127.0.0.1:{silent_port}", ldap_timeout=1)
    started = time.monotonic()
    with pytest.raises(AuthBackendError):
        await LdapAuthenticator(config).authenticate("alice", ldap_server.password("alice"))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3


async def test_wrong_search_password(ldap_server: LdapServer) -> None:
    secret = "not-the-reader-password"
    config = ldap_server.config(ldap_search_password=secret)
    with pytest.raises(AuthBackendError, match="search bind") as raised:
        await ping(config)
    assert secret not in str(raised.value)
    assert ldap_server.reader_password not in str(raised.value)
    # A broken search account is an outage, not a wrong user password.
    with pytest.raises(AuthBackendError) as raised:
        await LdapAuthenticator(config).authenticate("alice", ldap_server.password("alice"))
    assert ldap_server.password("alice") not in str(raised.value)
    assert secret not in repr(config)


async def test_search_dn_without_password(ldap_server: LdapServer) -> None:
    with pytest.raises(AuthBackendError, match="search bind"):
        await ping(ldap_server.config(ldap_search_password=None))


async def test_missing_base_dn_is_an_error(ldap_server: LdapServer) -> None:
    config = ldap_server.config(ldap_base_dn=f"ou=nowhere,{ldap_server.base_dn}")
    with pytest.raises(AuthBackendError):
        await ping(config)
    with pytest.raises(AuthBackendError):
        await LdapAuthenticator(config).authenticate("alice", ldap_server.password("alice"))


async def test_bad_configured_filter_is_an_error(ldap_server: LdapServer) -> None:
    # Balanced, but not a filter: only the server can tell.
    config = ldap_server.config(ldap_filter="(objectClass)")
    with pytest.raises(AuthBackendError):
        await LdapAuthenticator(config).authenticate("alice", ldap_server.password("alice"))


# -- admin operations --------------------------------------------------------------------------


async def test_ping(ldap_server: LdapServer) -> None:
    await ping(ldap_server.config())
    await ping(ldap_server.config(ldap_search_dn="", ldap_search_password=None))


async def test_search_users(ldap_server: LdapServer) -> None:
    config = ldap_server.config()
    everyone = await search_users(config, None)
    assert {person.username for person in everyone} == {
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "twin",
        ldap_server.special_uid,
    }
    assert len([person for person in everyone if person.username == "twin"]) == 2
    assert await search_users(config, "") == everyone
    (alice,) = await search_users(config, "lic")
    assert alice.username == "alice"
    assert alice.email == "alice@berth.test"
    assert alice.realname == "Alice L."
    assert alice.external_id == ldap_server.dn("alice")
    (special,) = await search_users(config, "neil(*)+")
    assert special.username == ldap_server.special_uid
    assert await search_users(config, "nobody") == []
    assert len(await search_users(config, None, limit=2)) == 2
    one_level = {p.username for p in await search_users(ldap_server.config(ldap_scope=1), None)}
    assert "dave" not in one_level


async def test_search_groups(ldap_server: LdapServer) -> None:
    config = ldap_server.config()
    every = await search_groups(config)
    names = {group.name for group in every}
    assert {"developers", "ops", "admins", "loop1", "loop2"} <= names
    assert {group.dn for group in every if group.name == "admins"} == {
        ldap_server.group_dn("admins")
    }
    (developers,) = await search_groups(config, name="velop")
    assert developers.dn == ldap_server.group_dn("developers")
    assert developers.name == "developers"
    assert await search_groups(config, name="*") == []
    assert await search_groups(config, name="*)(cn=*") == []
    (admins,) = await search_groups(config, dn=ldap_server.group_dn("admins"))
    assert admins.name == "admins"
    assert await search_groups(config, dn=f"cn=nothing,{ldap_server.groups_dn}") == []
    assert await search_groups(config, dn="not a dn") == []
    assert await search_groups(config, dn=f"{ldap_server.group_dn('ops')})(cn=*") == []
    # A person is not a group.
    assert await search_groups(config, dn=ldap_server.dn("alice")) == []


async def test_search_groups_by_other_attribute(ldap_server: LdapServer) -> None:
    config = ldap_server.config(ldap_group_attribute_name="description")
    (ops,) = await search_groups(config, dn=ldap_server.group_dn("ops"))
    assert ops.name == "ops"  # no description: the RDN value


async def test_find_user(ldap_server: LdapServer) -> None:
    config = ldap_server.config()
    bob = await find_user(config, "bob")
    assert bob is not None
    assert bob.username == "bob"
    assert group_names(bob) == {"ops", "admins"}
    assert bob.sysadmin is True
    dave = await find_user(config, "dave")
    assert dave is not None
    assert dave.external_id == ldap_server.dn("dave")
    assert await find_user(config, "nobody") is None
    assert await find_user(config, "") is None


# -- TLS ---------------------------------------------------------------------------------------


async def test_ldaps_verifies_certificate(ldap_server: LdapServer) -> None:
    verified = ldap_server.config(ldap_url=ldap_server.ldaps_url, ldap_verify_cert=True)
    with pytest.raises(AuthBackendError):
        await LdapAuthenticator(verified).authenticate("alice", ldap_server.password("alice"))
    with pytest.raises(AuthBackendError):
        await ping(verified)

    unverified = ldap_server.config(ldap_url=ldap_server.ldaps_url, ldap_verify_cert=False)
    identity = await LdapAuthenticator(unverified).authenticate(
        "alice", ldap_server.password("alice")
    )
    assert identity is not None
    assert identity.username == "alice"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_ldaps_with_trusted_certificate(
    ldap_server: LdapServer, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    assert ldap_server.cert_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(ldap_server.cert_file))
    config = ldap_server.config(
        ldap_url=f"ldaps://{host}:{ldap_server.ldaps_port}", ldap_verify_cert=True
    )
    await ping(config)
    identity = await LdapAuthenticator(config).authenticate("bob", ldap_server.password("bob"))
    assert identity is not None
    assert identity.sysadmin is True


async def test_starttls(ldap_server: LdapServer, monkeypatch: pytest.MonkeyPatch) -> None:
    verified = ldap_server.config(ldap_starttls=True, ldap_verify_cert=True)
    with pytest.raises(AuthBackendError):
        await ping(verified)
    unverified = ldap_server.config(ldap_starttls=True, ldap_verify_cert=False)
    assert await LdapAuthenticator(unverified).authenticate("alice", ldap_server.password("alice"))
    assert ldap_server.cert_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(ldap_server.cert_file))
    await ping(verified)


async def test_plain_client_on_ldaps_port_fails(ldap_server: LdapServer) -> None:
    config = ldap_server.config(ldap_url=f"ldap://127.0.0.1:{ldap_server.ldaps_port}")
    config = config.model_copy(update={"ldap_timeout": 1})
    with pytest.raises(AuthBackendError):
        await ping(config)


# -- configuration -----------------------------------------------------------------------------


def test_config_harbor_keys() -> None:
    config = LdapConfig.model_validate(
        {
            "ldap_url": "ldap.example.com",
            "ldap_base_dn": "dc=example,dc=com",
            "ldap_search_dn": "cn=reader,dc=example,dc=com",
            "ldap_search_password": "s3cret",
            "ldap_filter": "objectClass=person",
            "ldap_connection_timeout": 7,
            "ldap_group_search_filter": "objectClass=groupOfNames",
        }
    )
    assert config.ldap_url == "ldap://ldap.example.com"
    assert (config.host, config.port, config.secure) == ("ldap.example.com", 389, False)
    assert config.ldap_filter == "(objectClass=person)"
    assert config.ldap_group_search_filter == "(objectClass=groupOfNames)"
    assert config.ldap_timeout == 7
    assert config.ldap_uid == "uid"
    assert config.ldap_scope == 2
    assert config.ldap_verify_cert is True
    assert config.ldap_group_attribute_name == "cn"
    assert config.ldap_group_membership_attribute == "memberof"
    assert "s3cret" not in repr(config)
    secure = LdapConfig(ldap_url="ldaps://[::1]", ldap_base_dn="dc=x")
    assert (secure.host, secure.port, secure.secure) == ("::1", 636, True)


@pytest.mark.parametrize(
    "bad",
    [
        {"ldap_url": "http://ldap.example.com"},
        {"ldap_url": "ldap://"},
        {"ldap_url": "ldap://host:99999"},
        {"ldap_uid": "uid)(cn=*"},
        {"ldap_uid": ""},
        {"ldap_group_attribute_name": "cn*"},
        {"ldap_group_membership_attribute": "memberOf)"},
        {"ldap_scope": 3},
        {"ldap_timeout": 0},
        {"ldap_unknown_key": 1},
        {"ldap_base_dn": ""},
        {"ldap_base_dn": "garbage"},
        {"ldap_group_admin_dn": "cn=a,,dc=b"},
        {"ldap_filter": "(objectClass=person"},
        {"ldap_filter": "(a=b))(c=d"},
        {"ldap_group_search_filter": "(a=b)(c=d)"},
    ],
)
def test_config_rejects(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"ldap_url": "ldap://host", "ldap_base_dn": "dc=x"}
    values.update(bad)
    with pytest.raises(ValidationError):
        LdapConfig.model_validate(values)
