"""Slow clients against ``berth serve``, raw on the wire: trickled headers and stalled bodies
are cut off, a crowd of them locks nobody out, and a slow upload that keeps sending works."""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e._jobs import Serve, start_serve, state_dir

pytestmark = pytest.mark.e2e

PASSWORD = "Slow-clients-1"
HEADER_TIMEOUT = 2.0
BODY_IDLE_TIMEOUT = 3.0
MAX_PENDING = 100
CROWD = 300


@pytest.fixture(scope="module")
def serve() -> Iterator[Serve]:
    with state_dir("slow") as home:
        running = start_serve(
            [sys.executable, "-m", "registry.cli"],
            Path(home),
            password=PASSWORD,
            extra_env={
                "BERTH_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
                "BERTH_BODY_IDLE_TIMEOUT_SECONDS": str(BODY_IDLE_TIMEOUT),
                "BERTH_MAX_PENDING_CONNECTIONS": str(MAX_PENDING),
            },
        )
        try:
            yield running
        finally:
            stopped = running.server.stop()
        assert stopped.clean, stopped.explain()


def _address(serve: Serve) -> tuple[str, int]:
    parts = urlsplit(serve.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


async def _trickle_head(host: str, port: int, give_up_after: float) -> float | None:
    """Send a request head a byte at a time; seconds until the server closed, or None."""
    reader, writer = await asyncio.open_connection(host, port)
    began = time.monotonic()
    head = b"GET /v2/ HTTP/1.1\r\nHost: berth\r\nX-Padding: " + b"a" * 1000
    try:
        for byte in head:
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                if await asyncio.wait_for(reader.read(1), timeout=0.3) == b"":
                    return time.monotonic() - began
            except TimeoutError:
                pass
            except ConnectionError:
                return time.monotonic() - began
            if time.monotonic() - began > give_up_after:
                return None
        return None
    finally:
        writer.close()


def _basic() -> str:
    return "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()


async def _normal_request(url: str) -> float:
    began = time.monotonic()
    async with httpx.AsyncClient(timeout=10.0) as client:
        r = await client.get(f"{url}/v2/")
    assert r.status_code == 401, r.text
    return time.monotonic() - began


async def test_trickled_heads_are_cut_off_and_others_still_get_served(serve: Serve) -> None:
    host, port = _address(serve)
    crowd = [
        asyncio.create_task(_trickle_head(host, port, give_up_after=HEADER_TIMEOUT + 8))
        for _ in range(CROWD)
    ]
    await asyncio.sleep(0.5)
    # While the crowd trickles, a normal client is answered at once.
    assert await _normal_request(serve.url) < 3.0
    closed_after = await asyncio.gather(*crowd)
    assert all(t is not None for t in closed_after), (
        f"{sum(t is None for t in closed_after)} of {CROWD} slow connections were still held"
    )
    assert max(t for t in closed_after if t is not None) < HEADER_TIMEOUT + 4


async def test_a_slow_upload_that_keeps_sending_completes(serve: Serve) -> None:
    host, port = _address(serve)
    with serve.registry() as registry:
        started = registry.post("/v2/library/slow/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = urlsplit(started.headers["Location"])
    path = location.path + (f"?{location.query}" if location.query else "")
    pieces = [b"x" * 100] * 5  # one piece every 2 s: slower than the idle bound as a whole
    reader, writer = await asyncio.open_connection(host, port)
    auth = _basic()
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: berth\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/octet-stream\r\n"
        f"Content-Length: {sum(map(len, pieces))}\r\n\r\n".encode()
    )
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(BODY_IDLE_TIMEOUT - 1.0)
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 202"), status_line


async def test_a_stalled_body_is_cut_off_and_the_upload_stays_resumable(serve: Serve) -> None:
    host, port = _address(serve)
    with serve.registry() as registry:
        started = registry.post("/v2/library/stall/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
    parts = urlsplit(location)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.open_connection(host, port)
    auth = _basic()
    writer.write(
        f"PATCH {path} HTTP/1.1\r\nHost: berth\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n".encode()
        + b"y" * 400
    )
    await writer.drain()
    began = time.monotonic()
    answer = await asyncio.wait_for(reader.read(), timeout=BODY_IDLE_TIMEOUT + 10)
    waited = time.monotonic() - began
    writer.close()
    assert waited < BODY_IDLE_TIMEOUT + 5, f"the stalled body was held {waited:.1f}s"
    assert b"202" not in answer
    with serve.registry() as registry:
        status = registry.get(location)
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == "0-0"  # the cut-off chunk was rolled back
