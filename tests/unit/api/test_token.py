"""The token service's refusals, on the Docker token GET and the OAuth2 POST: each bad request
and each refused login answers in the form the client reads, and none reaches the database."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from registry.api.token import get_token, jwks, post_token
from registry.auth.principal import Principal, PrincipalKind
from registry.config import Settings
from registry.services.errors import BackendUnavailable, LoginThrottled
from registry.token.jwt import issue
from registry.token.keys import KeyRing

SERVICE = "berth-registry"


@dataclass
class Identity:
    login_outcome: Principal | Exception | None = None
    refresh_outcome: Principal | Exception | None = None
    refreshed: list[tuple[str, str]] = field(default_factory=list)

    async def login(self, username: str, password: str) -> Principal | None:
        if isinstance(self.login_outcome, Exception):
            raise self.login_outcome
        return self.login_outcome

    async def principal_for_refresh(self, subject: str, credential: str) -> Principal | None:
        self.refreshed.append((subject, credential))
        if isinstance(self.refresh_outcome, Exception):
            raise self.refresh_outcome
        return self.refresh_outcome


@dataclass
class FakeBackends:
    keys: KeyRing
    identity: Identity = field(default_factory=Identity)
    settings: Settings = field(default_factory=Settings)


def call_scope(b: FakeBackends, method: str, query: str, headers: list[tuple[str, str]]) -> Any:
    return {
        "type": "http",
        "method": method,
        "path": "/service/token",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "state": {"backends": b},
    }


async def get(b: FakeBackends, query: dict[str, str], *headers: tuple[str, str]) -> Response:
    return await get_token(Request(call_scope(b, "GET", urlencode(query), list(headers))))


async def post(b: FakeBackends, body: bytes) -> Response:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = call_scope(b, "POST", "", [("Content-Type", "application/x-www-form-urlencoded")])
    return await post_token(Request(scope, receive))


def parsed(response: Response) -> Any:
    return json.loads(bytes(response.body))


def basic(user: str, password: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())


def distribution(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


def oauth(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


@pytest.mark.parametrize("query", [{}, {"service": "another-registry"}])
async def test_get_names_this_registry_as_its_service(keys: KeyRing, query: dict[str, str]) -> None:
    response = await get(FakeBackends(keys), query)
    assert (response.status_code, parsed(response)) == (
        400,
        distribution("BAD_REQUEST", "unknown or missing service"),
    )


async def test_get_refuses_a_malformed_scope(keys: KeyRing) -> None:
    response = await get(FakeBackends(keys), {"service": SERVICE, "scope": "repository:app"})
    assert (response.status_code, parsed(response)) == (
        400,
        distribution("BAD_REQUEST", "invalid scope 'repository:app'"),
    )


async def test_get_takes_only_basic_credentials(keys: KeyRing) -> None:
    response = await get(FakeBackends(keys), {"service": SERVICE}, ("Authorization", "Bearer x"))
    assert (response.status_code, parsed(response)) == (
        401,
        distribution("UNAUTHORIZED", "only Basic credentials are accepted here"),
    )


@pytest.mark.parametrize(
    ("outcome", "status", "code", "message", "challenged"),
    [
        (None, 401, "UNAUTHORIZED", "invalid user name or password", True),
        (LoginThrottled("dev: 10 failures"), 429, "TOOMANYREQUESTS", "too many failed", False),
        (BackendUnavailable("ldap down"), 503, "UNAVAILABLE", "identity backend is", False),
    ],
)
async def test_get_answers_a_refused_login_in_distributions_words(
    keys: KeyRing,
    outcome: Exception | None,
    status: int,
    code: str,
    message: str,
    challenged: bool,
) -> None:
    b = FakeBackends(keys, Identity(login_outcome=outcome))
    response = await get(b, {"service": SERVICE}, basic("dev", "wrong"))
    assert response.status_code == status
    [error] = parsed(response)["errors"]
    assert error["code"] == code
    assert message in error["message"]
    assert ("www-authenticate" in response.headers) is challenged
    if challenged:
        assert response.headers["WWW-Authenticate"] == 'Basic realm="Berth"'


def form(**values: str) -> bytes:
    return urlencode({"service": SERVICE, **values}).encode()


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"x" * (16 * 1024 + 1), 413, oauth("invalid_request", "request body too large")),
        (b"service=\xff", 400, oauth("invalid_request", "malformed form body")),
        (b"grant_type=password", 400, oauth("invalid_request", "unknown or missing service")),
        (form(scope="nonsense"), 400, oauth("invalid_scope", "invalid scope 'nonsense'")),
        (
            form(grant_type="client_credentials"),
            400,
            oauth("unsupported_grant_type", "grant_type must be password or refresh_token"),
        ),
        (
            form(),
            400,
            oauth("unsupported_grant_type", "grant_type must be password or refresh_token"),
        ),
    ],
)
async def test_post_refuses_bad_forms(
    keys: KeyRing, body: bytes, status: int, expected: dict[str, Any]
) -> None:
    response = await post(FakeBackends(keys), body)
    assert (response.status_code, parsed(response)) == (status, expected)


async def test_post_refuses_wrong_passwords_as_an_invalid_grant(keys: KeyRing) -> None:
    response = await post(
        FakeBackends(keys), form(grant_type="password", username="dev", password="x")
    )
    assert (response.status_code, parsed(response)) == (
        401,
        oauth("invalid_grant", "invalid credentials"),
    )


async def test_post_passes_a_throttled_login_on(keys: KeyRing) -> None:
    b = FakeBackends(keys, Identity(login_outcome=LoginThrottled()))
    response = await post(b, form(grant_type="password", username="dev", password="x"))
    assert response.status_code == 429
    assert parsed(response)["errors"][0]["code"] == "TOOMANYREQUESTS"


def refresh_token(keys: KeyRing, *, kind: str = "refresh", audience: str = SERVICE) -> str:
    return issue(
        keys,
        issuer="berth-token-issuer",
        audience=audience,
        subject="dev",
        access=[],
        ttl_seconds=300,
        kind=kind,
        credential="stamp-1",
    ).token


@pytest.mark.parametrize(
    "token_kind", ["garbage", "access", "other-audience"], ids=lambda kind: kind
)
async def test_post_refuses_what_is_no_refresh_token_of_this_registry(
    keys: KeyRing, token_kind: str
) -> None:
    token = {
        "garbage": "garbage",
        "access": refresh_token(keys, kind="access"),
        "other-audience": refresh_token(keys, audience="another-registry"),
    }[token_kind]
    b = FakeBackends(keys, Identity(refresh_outcome=Principal("dev", PrincipalKind.USER)))
    response = await post(b, form(grant_type="refresh_token", refresh_token=token))
    assert (response.status_code, parsed(response)["error"]) == (401, "invalid_grant")
    assert b.identity.refreshed == []


async def test_a_refresh_token_of_an_account_that_changed_is_refused(keys: KeyRing) -> None:
    b = FakeBackends(keys, Identity(refresh_outcome=None))
    response = await post(b, form(grant_type="refresh_token", refresh_token=refresh_token(keys)))
    assert (response.status_code, parsed(response)["error"]) == (401, "invalid_grant")
    # The account is checked against the credential the token was issued for.
    assert b.identity.refreshed == [("dev", "stamp-1")]


async def test_a_refresh_while_the_identity_backend_is_down_is_a_503(keys: KeyRing) -> None:
    b = FakeBackends(keys, Identity(refresh_outcome=BackendUnavailable("ldap://10.0.0.5")))
    response = await post(b, form(grant_type="refresh_token", refresh_token=refresh_token(keys)))
    assert (response.status_code, parsed(response)) == (
        503,
        distribution("UNAVAILABLE", "the identity backend is unavailable"),
    )


async def test_the_verification_keys_are_published(keys: KeyRing) -> None:
    scope = call_scope(FakeBackends(keys), "GET", "", [])
    response = await jwks(Request({**scope, "path": "/service/token/jwks"}))
    assert parsed(response) == keys.jwks()
    assert [k["kid"] for k in parsed(response)["keys"]] == [keys.kid]
