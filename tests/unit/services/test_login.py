"""What a refused login answers, whichever face it came through: one status and one fixed
message per reason, never which part of the credentials was wrong, never the identity
backend's own words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest

from registry.auth.principal import Principal, PrincipalKind
from registry.services.context import Backends
from registry.services.errors import BackendUnavailable, LoginThrottled
from registry.services.login import LoginRefused, log_in

ALICE = Principal("alice", PrincipalKind.USER, user_id=7)
# What an LDAP server might say; none of it may reach the client.
LDAP_TEXT = "ldap://10.0.0.5:389 invalidCredentials for cn=admin,dc=corp"


@dataclass
class Identity:
    """Answers logins the way the identity service does: a principal, None, or an error."""

    outcome: Principal | Exception | None
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def login(self, username: str, password: str) -> Principal | None:
        self.asked.append((username, password))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass
class FakeBackends:
    identity: Identity


def backends(outcome: Principal | Exception | None) -> tuple[Backends, Identity]:
    identity = Identity(outcome)
    return cast(Backends, FakeBackends(identity)), identity


async def refusal(outcome: Principal | Exception | None) -> LoginRefused:
    b, _ = backends(outcome)
    with pytest.raises(LoginRefused) as refused:
        await log_in(b, "alice", "wrong-password")
    return refused.value


async def test_the_credentials_name_a_principal() -> None:
    b, identity = backends(ALICE)
    assert await log_in(b, "alice", "s3cret:with:colons") is ALICE
    assert identity.asked == [("alice", "s3cret:with:colons")]


async def test_wrong_credentials_do_not_say_which_part_was_wrong() -> None:
    refused = await refusal(None)
    assert (refused.status, refused.message) == (401, "invalid user name or password")
    assert str(refused) == refused.message


async def test_a_throttled_account_is_told_to_wait_without_naming_it() -> None:
    refused = await refusal(LoginThrottled("alice failed 10 times from 192.0.2.1"))
    assert (refused.status, refused.message) == (429, "too many failed logins, retry later")
    assert "alice" not in refused.message


async def test_an_unreachable_backend_is_unavailable_and_its_text_stays_inside() -> None:
    refused = await refusal(BackendUnavailable(LDAP_TEXT))
    assert (refused.status, refused.message) == (503, "the identity backend is unavailable")
    assert refused.__cause__ is None
    assert refused.__suppress_context__


@pytest.mark.parametrize(
    "outcome",
    [None, LoginThrottled(LDAP_TEXT), BackendUnavailable(LDAP_TEXT)],
    ids=["wrong", "throttled", "unavailable"],
)
async def test_no_refusal_repeats_the_credentials_or_the_backend(
    outcome: Exception | None,
) -> None:
    refused = await refusal(outcome)
    for secret in ("alice", "wrong-password", "ldap", "10.0.0.5", "cn=admin"):
        assert secret not in refused.message


async def test_a_failure_that_is_no_refusal_is_not_disguised_as_one() -> None:
    b, _ = backends(RuntimeError("a bug in the identity service"))
    with pytest.raises(RuntimeError, match="a bug"):
        await log_in(b, "alice", "pw")
