"""Many clients uploading the same content at once: every upload succeeds (no 500s), and the
stored blob holds exactly the pushed bytes."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time

import httpx
import pytest

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import digest_of

UPLOADERS = 8
UPLOADS_PER_UPLOADER = 75
TIME_LIMIT_SECONDS = 90.0


async def _session_upload(c: httpx.AsyncClient, repository: str, data: bytes) -> int:
    r = await c.post(f"/v2/{repository}/blobs/uploads/")
    if r.status_code != 202:
        return r.status_code
    r = await c.patch(r.headers["Location"], content=data)
    if r.status_code != 202:
        return r.status_code
    r = await c.put(r.headers["Location"], params={"digest": digest_of(data)})
    return r.status_code


async def _monolithic_upload(c: httpx.AsyncClient, repository: str, data: bytes) -> int:
    r = await c.post(
        f"/v2/{repository}/blobs/uploads/", params={"digest": digest_of(data)}, content=data
    )
    return r.status_code


async def _uploader(
    c: httpx.AsyncClient, number: int, contents: list[bytes], deadline: float
) -> list[int]:
    statuses = []
    for i in range(UPLOADS_PER_UPLOADER):
        if time.monotonic() > deadline:
            break
        upload = _session_upload if (number + i) % 2 else _monolithic_upload
        data = contents[i % len(contents)]
        statuses.append(await upload(c, f"library/race{number % 3}", data))
    return statuses


async def test_concurrent_uploads_of_the_same_content_never_fail(
    berth: Berth, caplog: pytest.LogCaptureFixture
) -> None:
    # A few contents, so uploads of one blob keep overlapping while others come and go.
    contents = [os.urandom(4096 + n) for n in range(3)]
    deadline = time.monotonic() + TIME_LIMIT_SECONDS
    with caplog.at_level(logging.ERROR, logger="registry"):
        async with berth.client() as c:
            await c.get("/v2/library/race0/tags/list")  # log in once, before the burst
            results = await asyncio.gather(
                *(_uploader(c, n, contents, deadline) for n in range(UPLOADERS))
            )
    statuses = [status for batch in results for status in batch]
    failures = {s: statuses.count(s) for s in set(statuses) if s != 201}
    errors = [r.getMessage() + str(r.exc_info and r.exc_info[1]) for r in caplog.records]
    assert not failures, f"{failures} of {len(statuses)} uploads failed; logged: {errors[:3]}"
    assert len(statuses) >= UPLOADERS * 20, f"only {len(statuses)} uploads in the time limit"
    async with berth.client() as c:
        for data in contents:
            got = await c.get(f"/v2/library/race0/blobs/{digest_of(data)}")
            assert hashlib.sha256(got.content).hexdigest() == digest_of(data).split(":")[1]
