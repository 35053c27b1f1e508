"""A 1 GiB layer goes up as one streamed PATCH and comes back streamed, while the server's
resident memory is sampled: a registry must stream blobs, never hold them.

It runs against Distribution too, which checks the streaming client code itself (Distribution
peaks near 30 MiB); the limit is the one Berth must meet."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.e2e._http import describe, expect, location_on, with_query
from tests.e2e._servers import Registry

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
BLOB_SIZE = 1024 * MiB
CHUNK = 1 * MiB
RSS_LIMIT = 400 * MiB
# The embedded database and cache are separate services, not the registry's own memory.
EXCLUDED_NAMES = ("postgres", "redis-server")
REPOSITORY = "library/e2e-memory"


class RssSampler(threading.Thread):
    """Samples the summed RSS of a process tree (minus excluded names) until stopped."""

    def __init__(self, root_pid: int, interval: float = 0.05) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.peak = 0
        self.peak_detail = ""
        self.samples = 0
        self._stop_event = threading.Event()

    def _sample(self) -> tuple[int, str]:
        root = psutil.Process(self.root_pid)
        total = 0
        parts = []
        for proc in [root, *root.children(recursive=True)]:
            try:
                name = proc.name()
                if name.startswith(EXCLUDED_NAMES):
                    continue
                rss = proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total += rss
            parts.append(f"{proc.pid}:{name}={rss / MiB:.0f}MiB")
        return total, ", ".join(parts)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                total, detail = self._sample()
            except psutil.NoSuchProcess:
                return
            self.samples += 1
            if total > self.peak:
                self.peak, self.peak_detail = total, detail
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def _payload(hasher: hashlib._Hash) -> Iterator[bytes]:
    """1 GiB in 1 MiB chunks, hashed as generated. Each chunk differs (its index is stamped in)."""
    block = bytearray(os.urandom(CHUNK))
    for index in range(BLOB_SIZE // CHUNK):
        block[:8] = index.to_bytes(8, "big")
        chunk = bytes(block)
        hasher.update(chunk)
        yield chunk


def test_one_gib_layer_streams_through_bounded_memory(registry: Registry) -> None:
    [server] = registry.servers
    sampler = RssSampler(server.pid)
    sampler.start()
    started = time.monotonic()
    try:
        with registry.client(timeout=600.0) as client:
            start = expect(client.post(f"/v2/{REPOSITORY}/blobs/uploads/"), 202)
            location = location_on(registry.url, start.headers["location"])

            hasher = hashlib.sha256()
            patched = client.patch(
                location,
                content=_payload(hasher),
                headers={"Content-Type": "application/octet-stream"},
            )
            expect(patched, 202)
            digest = "sha256:" + hasher.hexdigest()
            assert patched.headers.get("range") == f"0-{BLOB_SIZE - 1}", describe(patched)

            put_url = with_query(
                location_on(registry.url, patched.headers["location"]), digest=digest
            )
            committed = expect(client.put(put_url), 201)
            assert committed.headers.get("docker-content-digest") == digest, describe(committed)
            uploaded = time.monotonic()

            head = expect(client.head(f"/v2/{REPOSITORY}/blobs/{digest}"), 200)
            assert head.headers.get("content-length") == str(BLOB_SIZE), describe(head)

            pulled = hashlib.sha256()
            received = 0
            with client.stream("GET", f"/v2/{REPOSITORY}/blobs/{digest}") as response:
                if response.status_code != 200:
                    response.read()
                expect(response, 200)
                for chunk in response.iter_bytes(CHUNK):
                    pulled.update(chunk)
                    received += len(chunk)
    finally:
        sampler.stop()
    finished = time.monotonic()

    assert received == BLOB_SIZE
    assert "sha256:" + pulled.hexdigest() == digest
    report = (
        f"peak RSS {sampler.peak / MiB:.0f} MiB over {sampler.samples} samples "
        f"[{sampler.peak_detail}]; upload {uploaded - started:.1f} s, "
        f"download {finished - uploaded:.1f} s"
    )
    print(report)
    assert sampler.samples > 10, report
    assert sampler.peak < RSS_LIMIT, report
