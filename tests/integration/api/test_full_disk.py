"""A blob store that runs out of space in the middle of a push: the client gets an error in
the registry's own format, and the upload is still there to finish once there is room."""

from __future__ import annotations

import os

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import digest_of, error_code

MiB = 1024 * 1024


async def test_a_full_disk_fails_the_patch_and_the_upload_resumes_once_there_is_room(
    berth: Berth,
) -> None:
    data = os.urandom(3 * MiB)  # past the first batches the writer hands to its thread
    async with berth.client() as c:
        started = await c.post("/v2/library/app/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        # The upload's bytes land on /dev/full, which refuses every write with ENOSPC.
        partial = berth.storage_root / f"uploads/{started.headers['Docker-Upload-UUID']}"
        partial.mkdir(parents=True, exist_ok=True)
        (partial / "data!partial").symlink_to("/dev/full")

        refused = await c.patch(location, content=data)
        assert refused.status_code == 500, refused.text
        assert error_code(refused) == "UNKNOWN"
        status = await c.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-0"

        (partial / "data!partial").unlink()  # room again
        resumed = await c.patch(location, content=data)
        assert resumed.status_code == 202, resumed.text
        assert resumed.headers["Range"] == f"0-{len(data) - 1}"
        done = await c.put(resumed.headers["Location"], params={"digest": digest_of(data)})
        assert done.status_code == 201, done.text
        pulled = await c.get(f"/v2/library/app/blobs/{digest_of(data)}")
        assert pulled.content == data
