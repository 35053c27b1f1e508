"""The wrapper every /v2/ handler goes through: each failure as an OCI answer, and the headers
every answer carries."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.exceptions
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from registry.api.distribution.access import Challenge
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.config import Settings
from registry.services.errors import BlobUnknown, RangeInvalid, SizeInvalid


@dataclass
class FakeBackends:
    settings: Settings


def request(*headers: tuple[str, str]) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "PATCH",
        "scheme": "https",
        "path": "/v2/team/app/blobs/uploads/u1",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "state": {"backends": FakeBackends(Settings(external_url="https://r.example"))},
    }
    return Request(scope)


def raising(exc: BaseException) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        raise exc

    return handler


def errors(response: Response) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(bytes(response.body))["errors"]
    return found


async def answered(exc: BaseException) -> Response:
    response = await oci_endpoint(raising(exc))(request())
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    return response


async def test_every_answer_names_the_api_version() -> None:
    async def handler(request: Request) -> Response:
        return Response(status_code=202)

    response = await oci_endpoint(handler)(request())
    assert response.status_code == 202
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


async def test_a_challenge_tells_the_client_where_to_get_a_token() -> None:
    response = await answered(Challenge("authentication required", "repository:team/app:push"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="https://r.example/service/token",service="berth-registry",'
        'scope="repository:team/app:push"'
    )
    assert errors(response)[0]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("stored", "shown"), [(10, "0-9"), (1, "0-0"), (0, "0-0")])
async def test_a_chunk_out_of_order_says_where_the_upload_stands(stored: int, shown: str) -> None:
    response = await answered(RangeInvalid(stored))
    assert response.status_code == 416
    assert response.headers["Range"] == shown
    assert response.headers["Location"] == "/v2/team/app/blobs/uploads/u1"


async def test_a_domain_error_gets_its_oci_code() -> None:
    response = await answered(BlobUnknown(detail={"digest": "sha256:abc"}))
    assert response.status_code == 404
    assert errors(response) == [
        {
            "code": "BLOB_UNKNOWN",
            "message": "blob unknown to registry",
            "detail": {"digest": "sha256:abc"},
        }
    ]


async def test_a_client_that_went_away_gets_a_bare_400() -> None:
    response = await answered(ClientDisconnect())
    assert (response.status_code, response.body) == (400, b"")


async def test_an_unavailable_dependency_is_a_503_to_retry() -> None:
    response = await answered(redis.exceptions.ConnectionError("Connection refused"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert errors(response)[0]["code"] == "UNAVAILABLE"


async def test_a_bug_is_a_logged_500_that_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="registry.api.distribution.endpoint"):
        response = await answered(ZeroDivisionError("secret state"))
    assert response.status_code == 500
    assert errors(response) == [
        {"code": "UNKNOWN", "message": "internal server error", "detail": None}
    ]
    assert "unhandled error on PATCH /v2/team/app/blobs/uploads/u1" in caplog.messages


def test_the_content_length() -> None:
    assert content_length(request()) is None
    assert content_length(request(("Content-Length", "0"))) == 0
    assert content_length(request(("Content-Length", "1048576"))) == 1048576
    for bad in ("-1", "1e3", " 5", "\u0665", ""):
        with pytest.raises(SizeInvalid, match="invalid Content-Length"):
            content_length(request(("Content-Length", bad)))
