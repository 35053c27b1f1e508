"""The portal's login form before a session exists: what a bad form and a refused login
answer; and the CSRF token the middleware adds from what the request's session resolved to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from registry.api.portal_auth import CSRFTokenMiddleware, login
from registry.auth.principal import Principal
from registry.services.errors import BackendUnavailable, LoginThrottled

FORM = "application/x-www-form-urlencoded"


@dataclass
class Identity:
    outcome: Principal | Exception | None

    async def login(self, username: str, password: str) -> Principal | None:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@dataclass
class FakeBackends:
    identity: Identity


async def submit(body: bytes, content_type: str = FORM, outcome: Any = None) -> Response:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/c/login",
        "query_string": b"",
        "headers": [(b"content-type", content_type.encode())],
        "state": {"backends": FakeBackends(Identity(outcome))},
    }
    return await login(Request(scope, receive))


def harbor(response: Response) -> tuple[int, str, str]:
    [error] = json.loads(bytes(response.body))["errors"]
    return response.status_code, error["code"], error["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{}", "application/json", (400, "BAD_REQUEST", f"the form must be sent as {FORM}")),
        (b"x" * (16 * 1024 + 1), FORM, (413, "PAYLOAD_TOO_LARGE", "request body too large")),
        (b"principal=\xff", FORM, (400, "BAD_REQUEST", "malformed form body")),
        (b"&".join([b"a=b"] * 40), FORM, (400, "BAD_REQUEST", "malformed form body")),
    ],
)
async def test_a_bad_form_is_refused(
    body: bytes, content_type: str, expected: tuple[int, str, str]
) -> None:
    assert harbor(await submit(body, content_type)) == expected


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (None, (401, "UNAUTHORIZED", "invalid user name or password")),
        (
            LoginThrottled("dev: 10 failures"),
            (429, "TOO_MANY_REQUESTS", "too many failed logins, retry later"),
        ),
        (
            BackendUnavailable("ldap://10.0.0.5"),
            (503, "SERVICE_UNAVAILABLE", "the identity backend is unavailable"),
        ),
    ],
)
async def test_a_refused_login_answers_without_a_browser_dialog(
    outcome: Exception | None, expected: tuple[int, str, str]
) -> None:
    response = await submit(
        b"principal=dev&password=wrong", "application/x-www-form-urlencoded; charset=utf-8", outcome
    )
    assert harbor(response) == expected
    assert "www-authenticate" not in response.headers
    assert "set-cookie" not in response.headers


async def through_middleware(
    headers: list[tuple[bytes, bytes]], state: dict[str, Any], answer: list[tuple[bytes, bytes]]
) -> dict[bytes, bytes]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(answer)})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": headers, "state": state}
    await CSRFTokenMiddleware(app)(scope, receive, send)
    return dict(sent[0]["headers"])


COOKIE = [(b"cookie", b"sid=abc")]


async def test_a_response_to_a_live_session_carries_its_csrf_token() -> None:
    headers = await through_middleware(COOKIE, {"session_csrf_token": "tok-1"}, [])
    assert headers[b"x-harbor-csrf-token"] == b"tok-1"


@pytest.mark.parametrize(
    ("request_headers", "state"),
    [
        ([], {"session_csrf_token": "tok-1"}),  # no session cookie
        ([*COOKIE, (b"authorization", b"Basic x")], {"session_csrf_token": "tok-1"}),
        (COOKIE, {"session_csrf_token": None}),  # the cookie named no live session
        (COOKIE, {}),  # nothing resolved it and no backends to ask
    ],
)
async def test_no_token_without_a_live_session_of_the_caller(
    request_headers: list[tuple[bytes, bytes]], state: dict[str, Any]
) -> None:
    assert b"x-harbor-csrf-token" not in await through_middleware(request_headers, state, [])


async def test_a_token_the_handler_set_is_kept() -> None:
    headers = await through_middleware(
        COOKIE, {"session_csrf_token": "old"}, [(b"x-harbor-csrf-token", b"new")]
    )
    assert headers[b"x-harbor-csrf-token"] == b"new"
