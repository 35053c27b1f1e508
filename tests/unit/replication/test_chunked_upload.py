"""``copy_by_chunk``: a blob pushed as bounded PATCH requests cut from a stream, here against
a recorded registry whose token realm takes OAuth2 client credentials."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from registry.replication.adapter import AdapterError
from registry.replication.client import OAUTH, Credential
from registry.replication.copy import Copier
from registry.replication.distribution import DistributionAdapter, Slicer
from registry.replication.types import adapter_for
from tests.recorded_registry import FIXTURES, recorded_registry
from tests.replication_contract import chunks_of


async def test_oauth_client_credentials_and_a_chunked_upload() -> None:
    meta = json.loads((FIXTURES / "docker-registry-chunked.json").read_text())
    layer = (FIXTURES / "image" / "layer.tar.gz").read_bytes()
    with recorded_registry("docker-registry-chunked") as (origin, _):
        adapter = DistributionAdapter(origin, Credential(meta["username"], meta["password"], OAUTH))
        try:
            await adapter.ping()
            # Source reads of 37 bytes cut into 50-byte requests: slices cross the reads.
            await adapter.push_blob_chunked(
                meta["repository"],
                "sha256:8e2e6ba2d5cc4f51fa7ac98a0be073204dcdb2e552527b7b922a06e0d0f12bae",
                len(layer),
                chunks_of(layer, 37),
                meta["chunk_size"],
            )
        finally:
            await adapter.close()


async def test_slices_take_only_what_they_need_from_the_stream() -> None:
    read: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for n in range(10):
            read.append(n)
            yield bytes([n]) * 4

    slicer = Slicer(source())
    first = b"".join([piece async for piece in slicer.take(10)])
    assert first == b"\x00" * 4 + b"\x01" * 4 + b"\x02" * 2
    assert read == [0, 1, 2]  # nothing read ahead of the slice
    second = b"".join([piece async for piece in slicer.take(3)])
    assert second == b"\x02" * 2 + b"\x03"
    assert read == [0, 1, 2, 3]


async def test_a_stream_shorter_than_the_blob_is_an_error() -> None:
    slicer = Slicer(chunks_of(b"abc"))
    with pytest.raises(AdapterError, match="ended 2 bytes before"):
        _ = [piece async for piece in slicer.take(5)]


async def _log(line: str) -> None:
    """Task logs are not looked at here."""


@pytest.mark.parametrize(
    ("kind", "chunk_size", "chunked"),
    [
        ("docker-registry", 1024, True),
        ("harbor", 1024, True),
        ("docker-registry", 0, False),
        ("docker-hub", 1024, False),
    ],
)
async def test_chunks_go_only_to_destinations_that_take_them(
    kind: str, chunk_size: int, chunked: bool
) -> None:
    source = adapter_for("docker-registry", "http://127.0.0.1:9", Credential(), insecure=False)
    destination = adapter_for(kind, "http://127.0.0.1:9", Credential(), insecure=False)
    try:
        copier = Copier(source, destination, "a/b", "a/b", _log, chunk_size=chunk_size)
        assert (copier._chunked() is not None) is chunked
    finally:
        await source.close()
        await destination.close()
