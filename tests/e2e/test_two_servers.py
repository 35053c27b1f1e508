"""Two registry processes sharing database, Redis and storage: an upload session begun on one
continues on the other, as it does behind a load balancer."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.e2e._http import describe, expect, location_on, with_query
from tests.e2e._servers import RegistryPair

pytestmark = pytest.mark.e2e

REPOSITORY = "library/e2e-pair"
# Odd sizes, so no chunk lines up with any buffer or block size on the server.
CHUNK_SIZES = (1_048_573, 77, 524_287, 3, 2_000_003)


def _patch(client: httpx.Client, url: str, offset: int, data: bytes) -> httpx.Response:
    return client.patch(
        url,
        content=data,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(data) - 1}",
        },
    )


def test_chunked_upload_alternating_between_servers(berth_pair: RegistryPair) -> None:
    first, second = berth_pair.first, berth_pair.second
    chunks = [os.urandom(size) for size in CHUNK_SIZES]
    blob = b"".join(chunks)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    with first.client() as on_first, second.client() as on_second:
        servers = [(first, on_first), (second, on_second)]
        started = expect(on_first.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
        location = started.headers["location"]
        offset = 0
        # The POST went to the first server, so the first PATCH goes to the second.
        for number, chunk in enumerate(chunks):
            registry, client = servers[(number + 1) % 2]
            response = expect(
                _patch(client, location_on(registry.url, location), offset, chunk), 202
            )
            offset += len(chunk)
            assert response.headers.get("range") == f"0-{offset - 1}", describe(response)
            location = response.headers["location"]

        # Five chunks: the last PATCH landed on the first server; the PUT goes to the second.
        put_url = with_query(location_on(second.url, location), digest=digest)
        committed = expect(on_second.put(put_url), 201)
        assert committed.headers.get("docker-content-digest") == digest, describe(committed)

        fetched = expect(on_first.get(f"/v2/{REPOSITORY}/blobs/{digest}"), 200)
        assert len(fetched.content) == len(blob), describe(fetched)
        assert "sha256:" + hashlib.sha256(fetched.content).hexdigest() == digest
        assert fetched.headers.get("docker-content-digest") == digest, describe(fetched)
        head = expect(on_second.head(f"/v2/{REPOSITORY}/blobs/{digest}"), 200)
        assert head.headers.get("content-length") == str(len(blob)), describe(head)


def test_wrong_digest_on_the_other_server_is_rejected(berth_pair: RegistryPair) -> None:
    first, second = berth_pair.first, berth_pair.second
    data = os.urandom(300_001)
    wrong = "sha256:" + hashlib.sha256(data + b"!").hexdigest()

    with first.client() as on_first, second.client() as on_second:
        started = expect(on_first.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
        patched = expect(
            _patch(on_second, location_on(second.url, started.headers["location"]), 0, data), 202
        )
        put_url = with_query(location_on(first.url, patched.headers["location"]), digest=wrong)
        rejected = expect(on_first.put(put_url), 400)
        codes = [error.get("code") for error in rejected.json().get("errors", [])]
        assert "DIGEST_INVALID" in codes, describe(rejected)
        expect(on_second.head(f"/v2/{REPOSITORY}/blobs/{wrong}"), 404)
