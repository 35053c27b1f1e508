"""Upload integrity across two `berth serve` processes sharing database, Redis and storage.

A flaky network cuts a PATCH off mid-body on one server, or a server is killed (SIGKILL) in the
middle of one. Whatever happens, a blob is only ever stored under the digest of its bytes, and a
client that asks where the upload stands and resumes from there completes it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import psutil
import pytest

from tests.e2e._http import describe, expect, location_on, with_query
from tests.e2e._servers import BERTH_READY_TIMEOUT, Registry, RegistryPair

pytestmark = pytest.mark.e2e

REPOSITORY = "library/e2e-integrity"
# Long enough for a dead server's upload lease to run out, short against the old hour.
LEASE_GRACE_SECONDS = 30.0


def _content_range(offset: int, data: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{offset}-{offset + len(data) - 1}",
    }


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _path_of(location: str) -> str:
    return httpx.URL(location).raw_path.decode()


@contextlib.contextmanager
def _patch_left_hanging(
    registry: Registry, location: str, offset: int, total: int, sent: bytes
) -> Iterator[socket.socket]:
    """A PATCH announcing ``total`` bytes from ``offset`` of which only ``sent`` go out; the
    socket closes when the block ends (the client vanished)."""
    host, port = registry.host.rsplit(":", 1)
    credentials = base64.b64encode(registry.creds.encode()).decode()
    head = (
        f"PATCH {_path_of(location)} HTTP/1.1\r\n"
        f"Host: {registry.host}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Range: {offset}-{offset + total - 1}\r\n"
        f"Content-Length: {total}\r\n\r\n"
    )
    sock = socket.create_connection((host, int(port)), timeout=30)
    try:
        sock.sendall(head.encode() + sent)
        yield sock
    finally:
        sock.close()


def _until_accepted(send: Callable[[], httpx.Response], within: float) -> httpx.Response:
    """Send again while the server says another request still holds the upload."""
    deadline = time.monotonic() + within
    while True:
        response = send()
        busy = response.status_code == 400 and "another request" in response.text
        if not busy or time.monotonic() > deadline:
            return response
        time.sleep(0.25)


def _blob_bytes(client: httpx.Client, repository: str, digest: str) -> bytes:
    return expect(client.get(f"/v2/{repository}/blobs/{digest}"), 200).content


def test_cut_off_patch_never_yields_a_blob_with_other_bytes(berth_pair: RegistryPair) -> None:
    first, second = berth_pair.first, berth_pair.second
    head, tail = os.urandom(1024), os.urandom(1024)
    blob = head + tail
    digest = _digest(blob)

    with first.client() as on_first, second.client() as on_second:
        started = expect(on_first.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
        url_first = location_on(first.url, started.headers["location"])
        patched = expect(
            on_first.patch(url_first, content=head, headers=_content_range(0, head)), 202
        )
        # The second server gets 64 KiB of a 1 MiB chunk, then the client is gone.
        with _patch_left_hanging(second, url_first, len(head), 1024 * 1024, os.urandom(65536)):
            time.sleep(0.5)
        # Where the upload stands, asked of the server that was cut off.
        status = expect(on_second.get(location_on(second.url, url_first)), 204)
        assert status.headers["range"] == f"0-{len(head) - 1}", describe(status)
        resumed = _until_accepted(
            lambda: on_first.patch(
                location_on(first.url, patched.headers["location"]),
                content=tail,
                headers=_content_range(len(head), tail),
            ),
            LEASE_GRACE_SECONDS,
        )
        assert resumed.status_code == 202, describe(resumed)
        assert resumed.headers["range"] == f"0-{len(blob) - 1}", describe(resumed)
        put_url = with_query(location_on(first.url, resumed.headers["location"]), digest=digest)
        committed = on_first.put(put_url)
        if committed.status_code == 201:
            stored = _blob_bytes(on_second, REPOSITORY, digest)
            assert (len(stored), _digest(stored)) == (len(blob), digest)
        else:
            assert 400 <= committed.status_code < 500, describe(committed)
            expect(on_first.head(f"/v2/{REPOSITORY}/blobs/{digest}"), 404)

        # Another project pushing the same bytes gets exactly them back.
        with httpx.Client(
            base_url=f"{first.url}/api/v2.0", auth=(first.username, first.password)
        ) as api:
            expect(api.post("/projects", json={"project_name": "e2e-integrity-other"}), 201, 409)
        other = "e2e-integrity-other/app"
        pushed = on_second.post(
            f"/v2/{other}/blobs/uploads/", params={"digest": digest}, content=blob
        )
        expect(pushed, 201)
        stored = _blob_bytes(on_first, other, digest)
        assert (len(stored), _digest(stored)) == (len(blob), digest)


def _kill_hard(registry: Registry) -> None:
    """SIGKILL the server, then its orphaned children (worker, scheduler) by pid."""
    server = registry.servers[0]
    children = [p for p in server.process_tree() if p.pid != server.pid]
    os.kill(server.pid, signal.SIGKILL)
    assert server.proc is not None
    server.proc.wait(timeout=10)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


def _restart(registry: Registry) -> None:
    server = registry.servers[0]
    server.start()
    server.wait_ready(registry.url, BERTH_READY_TIMEOUT)


def test_upload_resumes_after_a_server_is_killed_mid_patch(berth_pair: RegistryPair) -> None:
    first, second = berth_pair.first, berth_pair.second
    head, tail = os.urandom(300_001), os.urandom(3 * 1024 * 1024 + 5)
    blob = head + tail
    digest = _digest(blob)

    with first.client() as on_first:
        started = expect(on_first.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
        url = location_on(first.url, started.headers["location"])
        expect(on_first.patch(url, content=head, headers=_content_range(0, head)), 202)
        # Two of the tail's three MiB reach the second server, which dies while reading more.
        try:
            with _patch_left_hanging(second, url, len(head), len(tail), tail[: 2 * 1024 * 1024]):
                time.sleep(1.0)
                _kill_hard(second)
            status = expect(on_first.get(url), 204)
            assert status.headers["range"] == f"0-{len(head) - 1}", describe(status)
            offset = int(status.headers["range"].split("-")[1]) + 1
            began = time.monotonic()
            resumed = _until_accepted(
                lambda: on_first.patch(
                    url, content=blob[offset:], headers=_content_range(offset, blob[offset:])
                ),
                LEASE_GRACE_SECONDS,
            )
            waited = time.monotonic() - began
            assert resumed.status_code == 202, describe(resumed)
            assert waited < 15, f"the dead server's lease held the upload for {waited:.1f} s"
            assert resumed.headers["range"] == f"0-{len(blob) - 1}", describe(resumed)
            put_url = with_query(location_on(first.url, resumed.headers["location"]), digest=digest)
            expect(on_first.put(put_url), 201)
            stored = _blob_bytes(on_first, REPOSITORY, digest)
            assert (len(stored), _digest(stored)) == (len(blob), digest)
        finally:
            if second.servers[0].proc is not None and second.servers[0].proc.poll() is not None:
                _restart(second)
