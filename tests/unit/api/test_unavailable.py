"""The last line for a dependency that is down: a 503 in the protocol's body from routes that
have no error wrapper of their own, and nothing else changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.exceptions
from starlette.types import Message, Receive, Scope, Send

from registry.api.unavailable import UnavailableMiddleware


async def call(app: Any, path: str = "/service/token", kind: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": kind, "method": "GET", "path": path}
    await UnavailableMiddleware(app)(scope, receive, send)
    return sent


def failing(exc: Exception, *, started: bool = False) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise exc

    return app


REDIS_DOWN = redis.exceptions.ConnectionError("Error 111 connecting to redis:6379")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/service/token", "UNAVAILABLE"),
        ("/v2/", "UNAVAILABLE"),
        ("/api/v2.0/users/current", "SERVICE_UNAVAILABLE"),
        ("/c/login", "SERVICE_UNAVAILABLE"),
    ],
)
async def test_an_unavailable_dependency_is_a_503_in_the_protocols_words(
    path: str, code: str
) -> None:
    start, body = await call(failing(REDIS_DOWN), path)
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"retry-after"] == b"5"
    assert int(headers[b"content-length"]) == len(body["body"])
    [error] = json.loads(body["body"])["errors"]
    assert error["code"] == code
    assert "6379" not in error["message"]


async def test_a_bug_is_left_to_the_server() -> None:
    with pytest.raises(KeyError):
        await call(failing(KeyError("x")))


async def test_once_an_answer_has_started_nothing_can_replace_it() -> None:
    with pytest.raises(redis.exceptions.ConnectionError):
        await call(failing(REDIS_DOWN, started=True))


async def test_other_scopes_and_good_answers_pass_untouched() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    assert [m["type"] for m in await call(app)] == ["http.response.start", "http.response.body"]
    with pytest.raises(redis.exceptions.ConnectionError):
        await call(failing(REDIS_DOWN), kind="lifespan")
