"""Blob downloads from ``berth serve`` as clients see them: whole, ranged (the zero-copy send
on the filesystem), and a client hanging up half-way does not disturb the next one."""

from __future__ import annotations

import hashlib
import os
import socket

import httpx
import pytest

from tests.e2e._http import describe, expect
from tests.e2e._servers import Registry

pytestmark = pytest.mark.e2e

REPOSITORY = "library/e2e-downloads"
# Larger than any socket buffer, and odd, so the send has to wait for the client many times.
SIZE = 24 * 1024 * 1024 + 4_321


@pytest.fixture(scope="module")
def blob(registry: Registry) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with registry.client(timeout=120.0) as client:
        started = expect(client.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
        expect(
            client.put(started.headers["location"], params={"digest": digest}, content=data), 201
        )
    return digest, data


def test_whole_blob_and_head(registry: Registry, blob: tuple[str, bytes]) -> None:
    digest, _ = blob
    with registry.client(timeout=120.0) as client:
        got = expect(client.get(f"/v2/{REPOSITORY}/blobs/{digest}"), 200)
        head = expect(client.head(f"/v2/{REPOSITORY}/blobs/{digest}"), 200)
    assert got.headers["content-length"] == str(SIZE), describe(got)
    assert hashlib.sha256(got.content).hexdigest() == digest.split(":", 1)[1]
    assert head.headers["content-length"] == str(SIZE), describe(head)
    assert head.content == b""


def test_ranges(registry: Registry, blob: tuple[str, bytes]) -> None:
    digest, data = blob
    url = f"/v2/{REPOSITORY}/blobs/{digest}"
    cases = {
        "bytes=0-0": data[:1],
        "bytes=1048570-9000000": data[1_048_570:9_000_001],
        "bytes=-3": data[-3:],
        f"bytes={SIZE - 10}-{SIZE + 50}": data[-10:],
        "bytes=5-": data[5:],
    }
    with registry.client(timeout=120.0) as client:
        for header, expected in cases.items():
            got = expect(client.get(url, headers={"Range": header}), 206)
            assert got.content == expected, header
            assert got.headers["content-length"] == str(len(expected)), describe(got)
            assert got.headers["content-range"].endswith(f"/{SIZE}"), describe(got)
        for header in (f"bytes={SIZE}-", "bytes=-0", "bytes=9-3", "pages=1-2"):
            refused = expect(client.get(url, headers={"Range": header}), 416)
            assert refused.headers["content-range"] == f"bytes */{SIZE}", header


def test_a_client_hanging_up_mid_download(registry: Registry, blob: tuple[str, bytes]) -> None:
    digest, data = blob
    url = f"/v2/{REPOSITORY}/blobs/{digest}"
    with registry.client() as client:
        token = client.get(url, headers={"Range": "bytes=0-0"}).request.headers["authorization"]
    host, port = registry.host.rsplit(":", 1)
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            request = (
                f"GET {url} HTTP/1.1\r\nHost: {registry.host}\r\nAuthorization: {token}\r\n\r\n"
            )
            sock.sendall(request.encode())
            head = sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
        # Closed with megabytes unread: the server's send fails and it moves on.
    with httpx.Client(base_url=registry.url, timeout=120.0) as plain:
        got = plain.get(url, headers={"Authorization": token})
    assert got.status_code == 200, describe(got)
    assert got.content == data
