"""The /v2/ gate, the parts decided before any project is looked up: who the caller is (a
token, Basic credentials or nothing), the challenge that tells a client where to get a token,
and a token whose scope does not cover the request."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import Request

from registry.api.distribution.access import (
    Challenge,
    authorize,
    caller_of,
    token_realm,
)
from registry.api.distribution.errors import TooManyRequests
from registry.auth.principal import Principal, PrincipalKind
from registry.config import Settings
from registry.rbac import Action
from registry.services.errors import (
    BackendUnavailable,
    LoginThrottled,
    NameInvalid,
    ServiceUnavailable,
)
from registry.token.jwt import VerifiedTokens, issue
from registry.token.keys import KeyRing
from registry.token.scope import Scope

DEV = Principal("dev", PrincipalKind.USER, user_id=7)


@dataclass
class Identity:
    outcome: Principal | Exception | None

    async def login(self, username: str, password: str) -> Principal | None:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome if (username, password) == ("dev", "Passw0rd") else None


@dataclass
class FakeBackends:
    """What the gate reads from the process's backends before it needs the database."""

    settings: Settings
    keys: KeyRing
    identity: Identity = field(default_factory=lambda: Identity(DEV))
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)


def request(b: FakeBackends, *headers: tuple[str, str], scheme: str = "http") -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": scheme,
        "path": "/v2/team/app/manifests/latest",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "server": ("10.0.0.1", 5000),
        "state": {"backends": b},
    }
    return Request(scope)


def basic(user: str, password: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def bearer(
    keys: KeyRing, settings: Settings, *scopes: Scope, audience: str = ""
) -> tuple[str, str]:
    token = issue(
        keys,
        issuer=settings.token.issuer,
        audience=audience or settings.token.service,
        subject="dev",
        access=list(scopes),
        ttl_seconds=300,
    ).token
    return ("Authorization", f"Bearer {token}")


def test_the_realm_is_the_external_url_when_there_is_one(keys: KeyRing) -> None:
    b = FakeBackends(Settings(external_url="https://registry.example/"), keys)
    assert token_realm(request(b, ("Host", "ignored"))) == "https://registry.example/service/token"


def test_otherwise_the_realm_follows_the_host_the_request_came_to(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    assert (
        token_realm(request(b, ("Host", "r.example:5000"))) == "http://r.example:5000/service/token"
    )
    forwarded = request(
        b, ("Host", "berth:5000"), ("X-Forwarded-Host", "r.example, inner"), scheme="https"
    )
    assert token_realm(forwarded) == "https://r.example/service/token"


def test_the_challenge_names_realm_service_scope_and_error(keys: KeyRing) -> None:
    b = FakeBackends(Settings(external_url="https://r.example"), keys)
    challenge = Challenge("insufficient scope", "repository:team/app:pull", "insufficient_scope")
    assert challenge.header(request(b)) == (
        'Bearer realm="https://r.example/service/token",service="berth-registry",'
        'scope="repository:team/app:pull",error="insufficient_scope"'
    )
    assert Challenge("authentication required").header(request(b)) == (
        'Bearer realm="https://r.example/service/token",service="berth-registry"'
    )


async def test_no_credentials_are_challenged_with_the_scope_to_ask_for(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    with pytest.raises(Challenge) as challenged:
        await caller_of(request(b), "repository:team/app:pull")
    assert challenged.value.message == "authentication required"
    assert (challenged.value.scope, challenged.value.error) == ("repository:team/app:pull", None)


async def test_a_valid_token_is_the_caller_and_is_remembered_for_the_request(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    pull = Scope("repository", "team/app", frozenset({"pull"}))
    req = request(b, bearer(keys, b.settings, pull))
    caller = await caller_of(req)
    assert caller.principal is None
    assert caller.claims is not None
    assert caller.claims.allows("repository", "team/app", "pull")
    assert await caller_of(req) is caller


@pytest.mark.parametrize("token", ["Bearer not-a-token", "Bearer "])
async def test_a_bad_token_is_challenged_as_invalid(keys: KeyRing, token: str) -> None:
    b = FakeBackends(Settings(), keys)
    with pytest.raises(Challenge) as challenged:
        await caller_of(request(b, ("Authorization", token)), "repository:team/app:pull")
    assert (challenged.value.message, challenged.value.error) == ("invalid token", "invalid_token")


async def test_a_token_for_another_registry_is_invalid(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    other = bearer(keys, b.settings, audience="another-registry")
    with pytest.raises(Challenge, match="invalid token"):
        await caller_of(request(b, other))


async def test_basic_credentials_log_in(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    caller = await caller_of(request(b, basic("dev", "Passw0rd")))
    assert (caller.principal, caller.claims) == (DEV, None)


async def test_wrong_basic_credentials_are_challenged_without_saying_which_part(
    keys: KeyRing,
) -> None:
    b = FakeBackends(Settings(), keys)
    with pytest.raises(Challenge) as challenged:
        await caller_of(request(b, basic("dev", "wrong")), "repository:team/app:pull")
    assert challenged.value.message == "invalid user name or password"
    assert challenged.value.scope == "repository:team/app:pull"


async def test_a_throttled_or_unreachable_login_is_no_challenge(keys: KeyRing) -> None:
    throttled = FakeBackends(Settings(), keys, Identity(LoginThrottled("dev: 10 failures")))
    with pytest.raises(TooManyRequests, match="too many failed logins, retry later"):
        await caller_of(request(throttled, basic("dev", "Passw0rd")))
    down = FakeBackends(Settings(), keys, Identity(BackendUnavailable("ldap://10.0.0.5 down")))
    with pytest.raises(ServiceUnavailable) as unavailable:
        await caller_of(request(down, basic("dev", "Passw0rd")))
    assert unavailable.value.message == "the identity backend is unavailable"


@pytest.mark.parametrize(
    ("action", "asked"),
    [(Action.PULL, "pull"), (Action.PUSH, "pull,push"), (Action.DELETE, "delete")],
)
async def test_a_token_without_the_action_asks_for_a_wider_scope(
    keys: KeyRing, action: Action, asked: str
) -> None:
    b = FakeBackends(Settings(), keys)
    other_repository = Scope("repository", "team/other", frozenset({"pull", "push", "delete"}))
    req = request(b, bearer(keys, b.settings, other_repository))
    with pytest.raises(Challenge) as challenged:
        await authorize(req, "team/app", action)
    assert challenged.value.scope == f"repository:team/app:{asked}"
    assert challenged.value.error == "insufficient_scope"


async def test_an_invalid_repository_name_is_refused_before_anything_else(keys: KeyRing) -> None:
    b = FakeBackends(Settings(), keys)
    with pytest.raises(NameInvalid):
        await authorize(request(b), "Team/App", Action.PULL)
