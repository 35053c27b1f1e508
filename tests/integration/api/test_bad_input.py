"""Hostile and malformed input, sent raw on the wire (http.client, nothing sanitized on the way):
always a 4xx in the protocol's own error format, never a 500, and names are matched in full."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.oci import OCI_MANIFEST, digest_of, push_blob

ADMIN = ("admin", ADMIN_PASSWORD)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _send_sync(
    url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        # putrequest/putheader send the bytes as given (latin-1), without http.client's checks.
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            # Latin-1 where it fits (one byte per character), else UTF-8 bytes.
            try:
                raw = value.encode("latin-1")
            except UnicodeEncodeError:
                raw = value.encode("utf-8")
            conn.putheader(name, raw)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


async def send(
    berth: Berth,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = ADMIN,
) -> Answer:
    all_headers = dict(headers or {})
    if auth is not None:
        all_headers.setdefault("Authorization", _basic(*auth))
    return await asyncio.to_thread(_send_sync, berth.url, method, path, body, all_headers)


def assert_oci_error(answer: Answer) -> str:
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    errors = answer.json()["errors"]
    assert isinstance(errors, list), answer.body
    assert errors, answer.body
    code: str = errors[0]["code"]
    assert isinstance(errors[0]["message"], str)
    return code


def assert_harbor_error(answer: Answer) -> str:
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    errors = answer.json()["errors"]
    assert isinstance(errors, list), answer.body
    assert errors, answer.body
    assert isinstance(errors[0]["message"], str)
    code: str = errors[0]["code"]
    return code


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def _image_parts(berth: Berth) -> tuple[dict[str, Any], dict[str, Any]]:
    config, layer = b"{}", b"layer"
    async with berth.client() as c:
        await push_blob(c, "library/app", config)
        await push_blob(c, "library/app", layer)

    def descriptor(media_type: str, data: bytes) -> dict[str, Any]:
        return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}

    return (
        descriptor("application/vnd.oci.image.config.v1+json", config),
        descriptor("application/vnd.oci.image.layer.v1.tar", layer),
    )


def _manifest_text(config: dict[str, Any], layer: dict[str, Any], annotation: str) -> bytes:
    # The annotation is spliced in as raw JSON text, so escapes reach the server untouched.
    head = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config})
    return (
        head[:-1] + f', "layers": [{json.dumps(layer)}], "annotations": {{"a": {annotation}}}}}'
    ).encode()


@pytest.mark.parametrize(
    "annotation",
    [
        pytest.param('"nul \\u0000 inside"', id="escaped-nul"),
        pytest.param('"lone \\ud800 surrogate"', id="lone-surrogate"),
        pytest.param('"trailing \\udfff"', id="lone-low-surrogate"),
        pytest.param(_nested(100_000), id="deeply-nested"),
        pytest.param(_nested(5_000), id="nested-past-the-recursion-limit"),
    ],
)
async def test_hostile_manifests_are_refused(berth: Berth, annotation: str) -> None:
    config, layer = await _image_parts(berth)
    body = _manifest_text(config, layer, annotation)
    answer = await send(
        berth, "PUT", "/v2/library/app/manifests/v1", body, {"Content-Type": OCI_MANIFEST}
    )
    assert assert_oci_error(answer) == "MANIFEST_INVALID"
    assert (await send(berth, "GET", "/v2/library/app/manifests/v1")).status == 404


async def test_a_raw_nul_byte_in_a_manifest_is_refused(berth: Berth) -> None:
    config, layer = await _image_parts(berth)
    body = _manifest_text(config, layer, '"x"').replace(b'"x"', b'"\x00"')
    answer = await send(
        berth, "PUT", "/v2/library/app/manifests/v1", body, {"Content-Type": OCI_MANIFEST}
    )
    assert assert_oci_error(answer) == "MANIFEST_INVALID"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/_catalog?n=%C2%B2",
        "/v2/_catalog?n=%D9%A3",
        "/v2/_catalog?last=%00",
        "/v2/_catalog?n=2&last=a%00b",
        "/v2/library/app/tags/list?n=%C2%B2",
        "/v2/library/app/tags/list?last=%00",
        "/v2/library/app/referrers/sha256:%00",
        "/v2/library/app/manifests/a%00b",
        "/v2/library/app/blobs/sha256:%00",
        "/v2/library/ap%00p/tags/list",
    ],
)
async def test_hostile_distribution_queries_are_4xx(berth: Berth, path: str) -> None:
    async with berth.client() as c:
        await push_blob(c, "library/app", b"x")  # so that library/app exists
    assert_oci_error(await send(berth, "GET", path))


@pytest.mark.parametrize(
    "content_range", ["²-³", "0-²", "\u0660-\u0669", "-1-3", "0-99999999999999999999999"]
)
async def test_non_ascii_and_odd_content_ranges_are_4xx(berth: Berth, content_range: str) -> None:
    started = await send(berth, "POST", "/v2/library/app/blobs/uploads/")
    assert started.status == 202
    location = started.headers["location"]
    answer = await send(berth, "PATCH", location, b"abc", {"Content-Range": content_range})
    assert assert_oci_error(answer) == "BLOB_UPLOAD_INVALID"
    # The session is still there and unchanged.
    status = await send(berth, "GET", location)
    assert (status.status, status.headers["range"]) == (204, "0-0")


@pytest.mark.parametrize(
    "username",
    [b"adm\x00in", b"admin\x00", b"\x00", b"admin\n", b"\xed\xa0\x80", b"\xff\xfe"],
    ids=["nul-inside", "nul-after", "only-nul", "newline", "utf8-surrogate", "not-utf8"],
)
async def test_odd_basic_usernames_are_refused(berth: Berth, username: bytes) -> None:
    header = "Basic " + base64.b64encode(username + b":" + ADMIN_PASSWORD.encode()).decode()
    oci = await send(berth, "GET", "/v2/_catalog", headers={"Authorization": header}, auth=None)
    assert oci.status == 401, oci.body
    assert_oci_error(oci)
    harbor = await send(
        berth, "GET", "/api/v2.0/users/current", headers={"Authorization": header}, auth=None
    )
    assert harbor.status == 401, harbor.body
    assert_harbor_error(harbor)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'{"project_name": "p", "metadata": ' + _nested(100_000).encode() + b"}", id="deep"
        ),
        pytest.param(
            b'{"project_name": "p", "metadata": ' + _nested(3_000).encode() + b"}", id="nested"
        ),
        pytest.param(b'{"project_name": "lone\\ud800"}', id="lone-surrogate"),
        pytest.param(b'{"project_name": "nul\\u0000"}', id="escaped-nul"),
        pytest.param(b'{"project_name": "raw\x00"}', id="raw-nul"),
        pytest.param(
            b'{"project_name": "p", "metadata": {"public": "\\udc00"}}', id="surrogate-value"
        ),
        pytest.param(b'{"\\ud800": 1, "project_name": "p"}', id="surrogate-key"),
    ],
)
async def test_hostile_management_bodies_are_refused(berth: Berth, body: bytes) -> None:
    answer = await send(
        berth, "POST", "/api/v2.0/projects", body, {"Content-Type": "application/json"}
    )
    assert assert_harbor_error(answer) == "BAD_REQUEST"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2.0/projects?page=%C2%B2",
        "/api/v2.0/projects?page_size=%C2%B2",
        "/api/v2.0/projects?q=name%3D%00",
        "/api/v2.0/projects?q=project_id%3D%C2%B2",
        "/api/v2.0/projects/%C2%B2",
        "/api/v2.0/projects/%00",
        "/api/v2.0/users/%C2%B2",
    ],
)
async def test_hostile_management_queries_are_4xx(berth: Berth, path: str) -> None:
    assert_harbor_error(await send(berth, "GET", path))


# Names that end in a newline (or hold one) match a ``^…$`` pattern: refuse them everywhere.


async def test_a_tag_ending_in_a_newline_is_refused(berth: Berth) -> None:
    config, layer = await _image_parts(berth)
    body = _manifest_text(config, layer, '"x"')
    answer = await send(
        berth, "PUT", "/v2/library/app/manifests/latest%0A", body, {"Content-Type": OCI_MANIFEST}
    )
    assert assert_oci_error(answer) == "MANIFEST_INVALID"
    async with berth.client() as c:
        assert (await c.get("/v2/library/app/tags/list")).json().get("tags") in (None, [])


@pytest.mark.parametrize("name", ["library/app%0A", "library%0A/app", "library/a%0Ab"])
async def test_a_repository_name_with_a_newline_is_refused(berth: Berth, name: str) -> None:
    answer = await send(berth, "POST", f"/v2/{name}/blobs/uploads/")
    assert_oci_error(answer)


async def test_a_digest_ending_in_a_newline_is_refused(berth: Berth) -> None:
    async with berth.client() as c:
        digest = await push_blob(c, "library/app", b"content")
    answer = await send(berth, "GET", f"/v2/library/app/blobs/{digest}%0A")
    assert assert_oci_error(answer) == "DIGEST_INVALID"


@pytest.mark.parametrize("name", ["team\n", "team\r\n", "\nteam"])
async def test_a_project_name_with_a_newline_is_refused(berth: Berth, name: str) -> None:
    body = json.dumps({"project_name": name}).encode()
    answer = await send(
        berth, "POST", "/api/v2.0/projects", body, {"Content-Type": "application/json"}
    )
    assert assert_harbor_error(answer) == "BAD_REQUEST"
    listed = await send(berth, "GET", "/api/v2.0/projects?page_size=100")
    assert [p["name"] for p in listed.json()] == ["library"]


@pytest.mark.parametrize("username", ["admin\n", "dev\n", "dev\nx"])
async def test_a_username_with_a_newline_is_refused(berth: Berth, username: str) -> None:
    body = json.dumps(
        {
            "username": username,
            "email": "dev@example.com",
            "realname": "Dev",
            "password": "Passw0rdX",
        }
    ).encode()
    answer = await send(
        berth, "POST", "/api/v2.0/users", body, {"Content-Type": "application/json"}
    )
    assert assert_harbor_error(answer) == "BAD_REQUEST"


async def test_an_email_ending_in_a_newline_is_refused(berth: Berth) -> None:
    body = json.dumps(
        {"username": "dev", "email": "dev@example.com\n", "realname": "D", "password": "Passw0rdX"}
    ).encode()
    answer = await send(
        berth, "POST", "/api/v2.0/users", body, {"Content-Type": "application/json"}
    )
    assert assert_harbor_error(answer) == "BAD_REQUEST"


@pytest.mark.parametrize("name", ["ci\n", "ci\r\n", "\nci"])
async def test_a_robot_name_with_a_newline_is_refused(berth: Berth, name: str) -> None:
    body = json.dumps(
        {
            "name": name,
            "level": "system",
            "duration": -1,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": "library",
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        }
    ).encode()
    answer = await send(
        berth, "POST", "/api/v2.0/robots", body, {"Content-Type": "application/json"}
    )
    assert assert_harbor_error(answer) == "BAD_REQUEST"
