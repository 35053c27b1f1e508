"""Blob uploads and downloads over the distribution API."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.oci import digest_of, error_code, push_blob

STORAGE_DRIVERS = ("filesystem", "s3")


async def test_monolithic_upload_then_get_and_head(berth: Berth) -> None:
    data = os.urandom(300_000)
    async with berth.client() as c:
        digest = await push_blob(c, "library/app", data)
        head = await c.head(f"/v2/library/app/blobs/{digest}")
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(data))
        assert head.headers["Docker-Content-Digest"] == digest
        got = await c.get(f"/v2/library/app/blobs/{digest}")
        assert got.status_code == 200
        assert got.content == data


async def test_session_with_one_streamed_patch_like_docker(berth: Berth) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    async with berth.client() as c:
        r = await c.post("/v2/library/app/blobs/uploads/")
        assert r.status_code == 202
        assert r.headers["Range"] == "0-0"
        assert r.headers["Docker-Upload-UUID"]
        location = r.headers["Location"]
        r = await c.patch(location, content=body())
        assert r.status_code == 202, r.text
        assert r.headers["Range"] == f"0-{len(data) - 1}"
        r = await c.put(r.headers["Location"], params={"digest": digest_of(data)})
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v2/library/app/blobs/{digest_of(data)}"
        got = await c.get(f"/v2/library/app/blobs/{digest_of(data)}")
        assert hashlib.sha256(got.content).hexdigest() == digest_of(data).split(":")[1]


async def test_chunked_upload_with_ranges_status_and_out_of_order(berth: Berth) -> None:
    data = os.urandom(100_000)
    chunks = [data[:30_000], data[30_000:70_001], data[70_001:]]
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        offset = 0
        for chunk in chunks:
            end = offset + len(chunk) - 1
            r = await c.patch(
                location,
                content=chunk,
                headers={
                    "Content-Range": f"{offset}-{end}",
                    "Content-Type": "application/octet-stream",
                },
            )
            assert r.status_code == 202, r.text
            assert r.headers["Range"] == f"0-{end}"
            offset = end + 1
            status = await c.get(location)
            assert status.status_code == 204
            assert status.headers["Range"] == f"0-{end}"
        # A chunk that does not continue where the upload stands is refused with 416.
        r = await c.patch(location, content=b"zz", headers={"Content-Range": "5-6"})
        assert r.status_code == 416
        assert r.headers["Range"] == f"0-{len(data) - 1}"
        assert error_code(r) == "BLOB_UPLOAD_INVALID"
        r = await c.put(location, params={"digest": digest_of(data)})
        assert r.status_code == 201, r.text
        assert (await c.get(f"/v2/library/app/blobs/{digest_of(data)}")).content == data


async def test_final_put_may_carry_the_last_chunk(berth: Berth) -> None:
    data = os.urandom(10_000)
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        r = await c.patch(location, content=data[:4000], headers={"Content-Range": "0-3999"})
        r = await c.put(
            r.headers["Location"], params={"digest": digest_of(data)}, content=data[4000:]
        )
        assert r.status_code == 201, r.text
        assert (await c.get(f"/v2/library/app/blobs/{digest_of(data)}")).content == data


async def test_wrong_digest_is_refused_and_nothing_is_stored(berth: Berth) -> None:
    data = b"hello"
    wrong = digest_of(b"other")
    async with berth.client() as c:
        r = await c.post("/v2/library/app/blobs/uploads/", params={"digest": wrong}, content=data)
        assert r.status_code == 400
        assert error_code(r) == "DIGEST_INVALID"
        assert (await c.head(f"/v2/library/app/blobs/{wrong}")).status_code == 404
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        await c.patch(location, content=data)
        r = await c.put(location, params={"digest": wrong})
        assert r.status_code == 400
        assert error_code(r) == "DIGEST_INVALID"
        r = await c.put(location, params={"digest": "sha256:nothex"})
        assert r.status_code in (400, 404)
    assert await berth.stored("/uploads") == []


async def test_malformed_digest_and_content_range(berth: Berth) -> None:
    async with berth.client() as c:
        r = await c.get("/v2/library/app/blobs/sha256:abc")
        assert r.status_code == 400
        assert error_code(r) == "DIGEST_INVALID"
        r = await c.get("/v2/library/app/blobs/md5:" + "0" * 32)
        assert error_code(r) == "DIGEST_INVALID"
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        r = await c.patch(location, content=b"abc", headers={"Content-Range": "zero-two"})
        assert r.status_code == 400
        assert error_code(r) == "BLOB_UPLOAD_INVALID"
        r = await c.patch(location, content=b"abc", headers={"Content-Range": "0-9"})
        assert r.status_code == 416


async def test_cancel_and_unknown_upload(berth: Berth) -> None:
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        await c.patch(location, content=b"abc")
        assert (await c.delete(location)).status_code == 204
        r = await c.get(location)
        assert r.status_code == 404
        assert error_code(r) == "BLOB_UPLOAD_UNKNOWN"
        r = await c.patch("/v2/library/app/blobs/uploads/not-a-uuid", content=b"x")
        assert error_code(r) == "BLOB_UPLOAD_UNKNOWN"
        # An upload belongs to the repository it was started in.
        other = location.replace("library/app", "library/other")
        assert (await c.get(other)).status_code == 404


async def test_range_requests(berth: Berth) -> None:
    data = bytes(range(256)) * 40
    async with berth.client() as c:
        digest = await push_blob(c, "library/app", data)
        r = await c.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=10-19"})
        assert r.status_code == 206
        assert r.content == data[10:20]
        assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
        r = await c.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=-5"})
        assert r.content == data[-5:]
        r = await c.get(f"/v2/library/app/blobs/{digest}", headers={"Range": "bytes=100-"})
        assert r.content == data[100:]
        r = await c.get(f"/v2/library/app/blobs/{digest}", headers={"Range": f"bytes={len(data)}-"})
        assert r.status_code == 416
        assert r.headers["Content-Range"] == f"bytes */{len(data)}"


async def test_sha512_blobs(berth: Berth) -> None:
    data = os.urandom(5000)
    digest = digest_of(data, "sha512")
    async with berth.client() as c:
        r = await c.post("/v2/library/app/blobs/uploads/", params={"digest": digest}, content=data)
        assert r.status_code == 201, r.text
        assert (await c.get(f"/v2/library/app/blobs/{digest}")).content == data
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        await c.patch(location, content=data[:100])
        r = await c.put(location, params={"digest": digest}, content=data[100:])
        assert r.status_code == 201, r.text


async def test_delete_blob_unlinks_it_from_the_project(berth: Berth) -> None:
    async with berth.client() as c:
        digest = await push_blob(c, "library/app", b"to be deleted")
        assert (await c.delete(f"/v2/library/app/blobs/{digest}")).status_code == 202
        r = await c.head(f"/v2/library/app/blobs/{digest}")
        assert r.status_code == 404
        r = await c.delete(f"/v2/library/app/blobs/{digest}")
        assert error_code(r) == "BLOB_UNKNOWN"


async def test_a_digest_alone_does_not_open_another_projects_blob(berth: Berth) -> None:
    secret = os.urandom(1000)
    await create_project(berth, "private1")
    async with berth.client() as c:
        digest = await push_blob(c, "private1/app", secret)
        r = await c.get(f"/v2/library/app/blobs/{digest}")
        assert r.status_code == 404
        assert error_code(r) == "BLOB_UNKNOWN"
    async with berth.client(auth=None) as anon:
        assert (await anon.get(f"/v2/private1/app/blobs/{digest}")).status_code == 401
        # Mounting it into a project the caller controls needs pull rights on the source.
        r = await anon.post(
            "/v2/library/app/blobs/uploads/", params={"mount": digest, "from": "private1/app"}
        )
        assert r.status_code == 401


async def test_cross_repository_mount(berth: Berth) -> None:
    await create_project(berth, "team")
    data = os.urandom(2000)
    async with berth.client() as c:
        digest = await push_blob(c, "library/source", data)
        r = await c.post(
            "/v2/team/dest/blobs/uploads/", params={"mount": digest, "from": "library/source"}
        )
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v2/team/dest/blobs/{digest}"
        assert (await c.get(f"/v2/team/dest/blobs/{digest}")).content == data
        # Unknown source blob: an ordinary upload session instead.
        r = await c.post(
            "/v2/team/dest/blobs/uploads/",
            params={"mount": digest_of(b"nope"), "from": "library/source"},
        )
        assert r.status_code == 202
        # Without `from`, a blob the caller can already read anywhere is mounted automatically.
        other = os.urandom(100)
        digest2 = await push_blob(c, "library/elsewhere", other)
        r = await c.post("/v2/team/third/blobs/uploads/", params={"mount": digest2})
        assert r.status_code == 201
        assert (await c.get(f"/v2/team/third/blobs/{digest2}")).content == other


async def test_concurrent_uploads_of_the_same_blob(berth: Berth) -> None:
    import asyncio

    data = os.urandom(500_000)
    async with berth.client() as c:
        results = await asyncio.gather(*(push_blob(c, f"library/c{i}", data) for i in range(8)))
        assert set(results) == {digest_of(data)}
        got = await c.get(f"/v2/library/c3/blobs/{digest_of(data)}")
        assert got.content == data
