"""The wrapper every management API handler goes through, and its request helpers: what each
failure answers, and what a request body may hold."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.exceptions
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message

from registry.api.v2_0.endpoint import (
    MAX_ID,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    created,
    harbor_endpoint,
    int_path,
    json_response,
    parse_id,
    read_json,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)
from registry.query import QueryInvalid
from registry.services.errors import JobServiceUnavailable, ProjectExists


def request(
    path: str = "/api/v2.0/projects",
    query: bytes = b"",
    body: bytes = b"",
    path_params: dict[str, str] | None = None,
) -> Request:
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)] or [b""]

    async def receive() -> Message:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": query,
        "headers": [],
        "path_params": path_params or {},
    }
    return Request(scope, receive)


def answer(response: Response) -> tuple[int, dict[str, Any]]:
    parsed: dict[str, Any] = json.loads(bytes(response.body))
    return response.status_code, parsed


def raising(exc: BaseException) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        raise exc

    return handler


def harbor(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message}]}


async def test_a_handlers_answer_passes_through() -> None:
    async def handler(request: Request) -> Response:
        return created("/api/v2.0/projects/7")

    response = await harbor_endpoint(handler)(request())
    assert (response.status_code, response.headers["Location"]) == (201, "/api/v2.0/projects/7")


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (NotFound("project x not found"), 404, harbor("NOT_FOUND", "project x not found")),
        (Conflict("taken"), 409, harbor("CONFLICT", "taken")),
        (QueryInvalid("unknown key 'color'"), 400, harbor("BAD_REQUEST", "unknown key 'color'")),
        (ProjectExists("project x exists"), 409, harbor("CONFLICT", "project x exists")),
    ],
)
async def test_failures_answer_in_harbors_envelope(
    exc: Exception, status: int, body: dict[str, Any]
) -> None:
    assert answer(await harbor_endpoint(raising(exc))(request())) == (status, body)


async def test_an_unauthenticated_caller_is_asked_for_basic_credentials() -> None:
    response = await harbor_endpoint(raising(Unauthorized("log in first")))(request())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Berth"'


async def test_an_unavailable_dependency_is_a_503_to_retry() -> None:
    response = await harbor_endpoint(raising(JobServiceUnavailable("broker down")))(request())
    assert answer(response) == (503, harbor("SERVICE_UNAVAILABLE", "broker down"))
    assert response.headers["Retry-After"] == "5"
    redis_down = redis.exceptions.ConnectionError("Connection refused")
    response = await harbor_endpoint(raising(redis_down))(request())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


async def test_a_bug_is_a_logged_500_that_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="registry.api.v2_0.endpoint"):
        response = await harbor_endpoint(raising(KeyError("robot_secret_hash")))(request())
    assert answer(response) == (500, harbor("INTERNAL_SERVER_ERROR", "internal server error"))
    assert "unhandled error on POST /api/v2.0/projects" in caplog.messages


async def test_a_client_that_went_away_gets_a_bare_400() -> None:
    response = await harbor_endpoint(raising(ClientDisconnect()))(request())
    assert (response.status_code, response.body) == (400, b"")


@pytest.mark.parametrize(
    ("path", "query"), [("/api/v2.0/projects/a\x00b", b""), ("/api/v2.0/projects", b"q=a%00b")]
)
async def test_a_nul_in_path_or_query_is_refused_before_the_handler(
    path: str, query: bytes
) -> None:
    response = await harbor_endpoint(raising(AssertionError("reached")))(request(path, query))
    assert answer(response) == (400, harbor("BAD_REQUEST", "the request contains a NUL character"))


async def test_a_json_body() -> None:
    assert await read_json(request(body=b'{"name": "team", "public": true}')) == {
        "name": "team",
        "public": True,
    }
    assert await read_object(request(body=b'{"a": [1, "x", null]}')) == {"a": [1, "x", None]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b'{"name": "a\\u0000b"}', r"body\.name contains a NUL character"),
        (b'{"a\\u0000": 1}', "body contains a NUL character"),
        (b'{"name": "\\ud800"}', r"body\.name contains a lone surrogate"),
        (b'{"id": 9223372036854775808}', r"body\.id holds a number out of range"),
        (b'{"id": -9223372036854775809}', "out of range"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests deeper than 32"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 32"),
    ],
)
async def test_bodies_that_cannot_be_stored_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        await read_json(request(body=body))


async def test_the_extreme_values_that_fit_are_accepted() -> None:
    body = json.dumps({"max": MAX_ID, "min": -MAX_ID - 1, "flag": True}).encode()
    assert await read_json(request(body=body)) == {"max": MAX_ID, "min": -MAX_ID - 1, "flag": True}
    nested = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert await read_json(request(body=nested)) is not None


async def test_a_body_too_large_is_refused_while_it_arrives() -> None:
    with pytest.raises(PayloadTooLarge, match="request body too large") as refused:
        await read_json(request(body=b" " * (MAX_JSON_BYTES + 1)))
    assert refused.value.status == 413


async def test_an_object_is_required_where_one_is_expected() -> None:
    with pytest.raises(BadRequest, match="must be a JSON object"):
        await read_object(request(body=b"[1, 2]"))


def test_datetimes_are_rendered_as_utc_timestamps() -> None:
    response = json_response({"at": datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)}, 202, {"X": "1"})
    assert answer(response) == (202, {"at": "2026-12-02T01:02:03Z"})
    assert response.headers["X"] == "1"
    with pytest.raises(TypeError, match="cannot serialize set"):
        json_response({"tags": {"a"}})


def test_string_fields() -> None:
    body: dict[str, Any] = {"name": "team", "count": 3, "none": None}
    assert string_field(body, "name") == "team"
    assert string_field(body, "missing", required=False) is None
    with pytest.raises(BadRequest, match="missing is required"):
        string_field(body, "missing")
    with pytest.raises(BadRequest, match="none is required"):
        string_field(body, "none")
    with pytest.raises(BadRequest, match="count must be a string"):
        string_field(body, "count")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ID), MAX_ID),
        ("0", None),
        (str(MAX_ID + 1), None),
        ("1" * 20, None),
        ("-1", None),
        ("\u0661", None),
        ("", None),
    ],
)
def test_ids(text: str, value: int | None) -> None:
    assert parse_id(text) == value


def test_an_id_in_the_path() -> None:
    assert int_path(request(path_params={"project_id": "7"}), "project_id") == 7
    with pytest.raises(BadRequest, match="project_id must be a positive integer"):
        int_path(request(path_params={"project_id": "seven"}), "project_id")
    with pytest.raises(NotFound, match="no resource with project_id 0"):
        int_path(request(path_params={"project_id": "0"}), "project_id")
