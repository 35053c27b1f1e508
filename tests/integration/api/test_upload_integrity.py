"""What a client sees of upload integrity on one server: the final PUT's Content-Range, and
blobs whose stored bytes were never checked against their digest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from registry.oci.digest import Digest
from registry.services.lease import LEASE_SECONDS
from registry.storage import layout
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.oci import digest_of, error_code, push_blob

STORAGE_DRIVERS = ("filesystem", "s3")


async def test_final_put_not_at_the_offset_is_416_and_keeps_the_session(berth: Berth) -> None:
    data = os.urandom(1500)
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        r = await c.patch(location, content=data[:1000], headers={"Content-Range": "0-999"})
        assert r.status_code == 202, r.text
        for wrong in ("5-504", "1001-1500", "0-499"):
            r = await c.put(
                location,
                params={"digest": digest_of(data)},
                content=data[1000:],
                headers={"Content-Range": wrong},
            )
            assert r.status_code == 416, (wrong, r.status_code, r.text)
            assert r.headers["Range"] == "0-999"
            assert error_code(r) == "BLOB_UPLOAD_INVALID"
        status = await c.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-999"
        r = await c.put(
            location,
            params={"digest": digest_of(data)},
            content=data[1000:],
            headers={"Content-Range": "1000-1499"},
        )
        assert r.status_code == 201, r.text
        assert (await c.get(f"/v2/library/app/blobs/{digest_of(data)}")).content == data


async def _plant_unverified_copy(berth: Berth, digest: str, stored: bytes) -> None:
    """Make the blob look as an earlier Berth could leave it: other bytes at its path, recorded
    with their size and never checked."""
    backends = berth.app.state.backends
    await backends.storage.put_content(layout.blob_path(Digest.parse(digest)), stored)
    await backends.db.execute(
        "UPDATE blobs SET verified = FALSE, size = $2 WHERE digest = $1", digest, len(stored)
    )


async def test_a_push_replaces_unverified_bytes_instead_of_deduplicating(berth: Berth) -> None:
    await create_project(berth, "team")
    data = os.urandom(2048)
    digest = digest_of(data)
    async with berth.client() as c:
        await push_blob(c, "library/base", data)
        await _plant_unverified_copy(berth, digest, data + os.urandom(65536))
        # Mounting the unchecked copy is refused: the client uploads instead.
        r = await c.post(
            "/v2/team/app/blobs/uploads/", params={"mount": digest, "from": "library/base"}
        )
        assert r.status_code == 202, r.text
        await push_blob(c, "team/app", data)
        for repository in ("team/app", "library/base"):
            got = await c.get(f"/v2/{repository}/blobs/{digest}")
            assert got.status_code == 200
            assert hashlib.sha256(got.content).hexdigest() == digest.split(":")[1]
            head = await c.head(f"/v2/{repository}/blobs/{digest}")
            assert head.headers["Content-Length"] == str(len(data))
        # Now verified: another project mounts it.
        await create_project(berth, "third")
        r = await c.post(
            "/v2/third/app/blobs/uploads/", params={"mount": digest, "from": "team/app"}
        )
        assert r.status_code == 201, r.text


async def _cut_off_patch(berth: Berth, location: str, offset: int, total: int, sent: bytes) -> None:
    """A PATCH announcing ``total`` bytes of which only ``sent`` arrive before the client
    vanishes."""
    url = urlsplit(berth.url)
    assert url.hostname is not None
    credentials = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Basic {credentials}\r\n"
        f"Content-Range: {offset}-{offset + total - 1}\r\nContent-Length: {total}\r\n\r\n"
    )
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head.encode() + sent)
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()


async def _patch_when_free(
    c: httpx.AsyncClient, location: str, data: bytes, offset: int
) -> httpx.Response:
    deadline = time.monotonic() + 3 * LEASE_SECONDS
    while True:
        r = await c.patch(
            location, content=data, headers={"Content-Range": f"{offset}-{offset + len(data) - 1}"}
        )
        if r.status_code != 400 or "another request" not in r.text or time.monotonic() > deadline:
            return r
        await asyncio.sleep(0.1)


async def test_a_cut_off_patch_leaves_no_bytes_behind(berth: Berth) -> None:
    # More than a buffer's worth (and an S3 part), so some of it reaches the store.
    head, tail = os.urandom(1000), os.urandom(3000)
    data = head + tail
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        r = await c.patch(location, content=head, headers={"Content-Range": "0-999"})
        assert r.status_code == 202, r.text
        await _cut_off_patch(berth, location, 1000, 8 * 1024 * 1024, os.urandom(6 * 1024 * 1024))
        r = await _patch_when_free(c, location, tail, 1000)
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{len(data) - 1}"
        r = await c.put(location, params={"digest": digest_of(data)})
        assert r.status_code == 201, r.text
        got = await c.get(f"/v2/library/app/blobs/{digest_of(data)}")
        assert got.content == data
    assert await berth.stored("/uploads") == []


async def test_a_long_patch_keeps_the_upload_to_itself(berth: Berth) -> None:
    # The lease is short but renewed while the body streams: a PATCH outlasting it still owns
    # the upload, and a second writer is refused meanwhile.
    chunk = os.urandom(4096)
    pieces = int(LEASE_SECONDS * 1.5 / 0.25)

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(pieces):
            yield chunk
            await asyncio.sleep(0.25)

    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        slow = asyncio.create_task(c.patch(location, content=slow_body()))
        await asyncio.sleep(LEASE_SECONDS * 1.2)
        intruder = await c.patch(location, content=b"x", headers={"Content-Range": "0-0"})
        assert intruder.status_code == 400, intruder.text
        assert "another request is writing" in intruder.text
        r = await slow
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{pieces * len(chunk) - 1}"
        r = await c.put(location, params={"digest": digest_of(chunk * pieces)})
        assert r.status_code == 201, r.text
