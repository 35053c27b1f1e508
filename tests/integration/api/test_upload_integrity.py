"""What a client sees of upload integrity on one server: the final PUT's Content-Range, and
blobs whose stored bytes were never checked against their digest."""

from __future__ import annotations

import hashlib
import os

from registry.oci.digest import Digest
from registry.storage import layout
from tests.integration.api.conftest import Berth, create_project
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
