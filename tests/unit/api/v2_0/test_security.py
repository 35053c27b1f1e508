"""Who calls the management API, decided before any project is looked up: anonymous, Basic
credentials (and their refusals), a cookie that names no session; and the checks for a
logged-in caller and a system administrator."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.requests import Request

from registry.api.v2_0.errors import Forbidden, TooManyRequests, Unauthorized, Unavailable
from registry.api.v2_0.security import authenticated, principal_of, sysadmin
from registry.auth.principal import ANONYMOUS, Principal, PrincipalKind
from registry.services.errors import BackendUnavailable, LoginThrottled

DEV = Principal("dev", PrincipalKind.USER, user_id=7)
ADMIN = Principal("admin", PrincipalKind.USER, user_id=1, sysadmin=True)


@dataclass
class Identity:
    outcome: Principal | Exception | None
    logins: int = 0

    async def login(self, username: str, password: str) -> Principal | None:
        self.logins += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass
class FakeBackends:
    identity: Identity
    # No session store: a cookie that cannot be a session id must not reach one.
    redis: None = None


def request(outcome: Any = DEV, *headers: tuple[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v2.0/projects",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "state": {"backends": FakeBackends(Identity(outcome))},
    }
    return Request(scope)


def basic(user: str = "dev") -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{user}:Passw0rd".encode()).decode())


async def test_no_credentials_is_the_anonymous_caller() -> None:
    assert await principal_of(request()) is ANONYMOUS


async def test_basic_credentials_name_the_caller_once_per_request() -> None:
    req = request(DEV, basic())
    assert await principal_of(req) == DEV
    assert await principal_of(req) == DEV
    assert req.state.backends.identity.logins == 1


async def test_other_authorization_schemes_are_refused() -> None:
    with pytest.raises(Unauthorized, match="unsupported authorization scheme"):
        await principal_of(request(DEV, ("Authorization", "Bearer x.y.z")))


@pytest.mark.parametrize(
    ("outcome", "error", "message"),
    [
        (None, Unauthorized, "invalid user name or password"),
        (LoginThrottled(), TooManyRequests, "too many failed logins, retry later"),
        (BackendUnavailable("ldap://10.0.0.5"), Unavailable, "the identity backend is unavailable"),
    ],
)
async def test_a_refused_login_answers_as_harbor_does(
    outcome: Exception | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        await principal_of(request(outcome, basic()))
    assert str(refused.value) == message


async def test_a_cookie_that_cannot_be_a_session_is_anonymous() -> None:
    req = request(DEV, ("Cookie", "sid=" + "x" * 200))
    assert await principal_of(req) is ANONYMOUS
    # And the CSRF middleware learns that there is no session to echo.
    assert req.state.session_csrf_token is None


async def test_only_a_logged_in_caller_is_authenticated() -> None:
    assert await authenticated(request(DEV, basic())) == DEV
    with pytest.raises(Unauthorized, match="authentication required"):
        await authenticated(request())


async def test_only_a_system_administrator_passes_the_admin_check() -> None:
    assert await sysadmin(request(ADMIN, basic("admin"))) == ADMIN
    with pytest.raises(Forbidden, match="only system administrators"):
        await sysadmin(request(DEV, basic()))
    with pytest.raises(Unauthorized):
        await sysadmin(request())
