"""The zero-copy file send of ``berth serve``'s HTTP protocol, on a real uvicorn server."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from registry.http_protocol import GuardedHttpProtocol
from registry.http_zerocopy import EXTENSION, ZeroCopyCycle

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# Far more than a socket buffer holds, so the send waits for the client again and again.
SIZE = 6 * 1024 * 1024 + 17


@pytest.fixture
def content(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(SIZE)
    path = tmp_path / "blob"
    path.write_bytes(data)
    return path, data


@pytest.fixture(params=["copy", "sendfile"])
async def url(
    request: pytest.FixtureRequest, content: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    """A server sending files in each of BERTH_BLOB_SEND's ways."""
    path, _ = content
    monkeypatch.setattr(ZeroCopyCycle, "send_mode", request.param)

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        query = dict(part.split("=") for part in scope["query_string"].decode().split("&") if part)
        offered = EXTENSION in scope.get("extensions", {})
        offset = int(query.get("offset", 0))
        count = int(query.get("count", SIZE - offset))
        length = int(query.get("length", count))
        headers = [
            (b"content-length", str(length).encode()),
            (b"x-offered", str(offered).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        with path.open("rb") as file:
            await send(
                {
                    "type": EXTENSION,
                    "file": file,
                    "offset": offset,
                    "count": count,
                    "more_body": "more" in query,
                }
            )
        if "more" in query:
            await send({"type": "http.response.body", "body": b"tail"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=GuardedHttpProtocol,
        lifespan="off",
        log_level="critical",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn's Server has no started event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_whole_file_and_a_slice_on_one_connection(
    url: str, content: tuple[Path, bytes]
) -> None:
    _, data = content
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        whole = await client.get("/")
        part = await client.get("/", params={"offset": 1_000_001, "count": 3_000_000})
        empty = await client.get("/", params={"offset": 5, "count": 0})
        head = await client.head("/")
    assert whole.headers["x-offered"] == "True"
    assert whole.content == data
    assert part.content == data[1_000_001:4_000_001]
    assert empty.content == b""
    assert head.status_code == 200
    assert head.content == b""


async def test_more_body_after_the_file(url: str, content: tuple[Path, bytes]) -> None:
    _, data = content
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        got = await client.get("/", params={"count": 10, "length": 14, "more": 1})
    assert got.content == data[:10] + b"tail"


async def test_a_count_beyond_the_content_length_is_refused(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/", params={"count": 10, "length": 5})


async def test_a_client_hanging_up_does_not_stop_the_server(
    url: str, content: tuple[Path, bytes]
) -> None:
    _, data = content
    host, port = url.removeprefix("http://").split(":")
    for _ in range(3):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.get("/")).content == data


async def test_a_file_out_of_the_page_cache_is_read_in_full(
    url: str, content: tuple[Path, bytes]
) -> None:
    path, data = content
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        # The copy's read that never waits now finds nothing cached, so a thread reads.
        with pytest.raises(BlockingIOError):
            os.preadv(fd, [bytearray(4096)], SIZE // 2, os.RWF_NOWAIT)
    finally:
        os.close(fd)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        got = await client.get("/", params={"offset": 4096})
    assert got.content == data[4096:]


async def test_a_file_shorter_than_announced_cuts_the_response_off(
    url: str, content: tuple[Path, bytes]
) -> None:
    _, data = content
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/", params={"offset": SIZE - 10, "count": 100})
        # The server goes on answering.
        assert (await client.get("/", params={"count": 10})).content == data[:10]


@pytest.mark.parametrize("url", ["sendfile"], indirect=True)
async def test_sendfile_reads_the_disk_in_a_thread_and_the_page_cache_on_the_loop(
    url: str, content: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = content
    loop_thread = threading.get_ident()
    calls: list[bool] = []  # per sendfile call: made on the event loop's thread?
    real_sendfile = os.sendfile

    def spy(out: int, fd: int, offset: int | None, count: int) -> int:
        calls.append(threading.get_ident() == loop_thread)
        return real_sendfile(out, fd, offset, count)

    monkeypatch.setattr(os, "sendfile", spy)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        cold = await client.get("/")
        from_disk = list(calls)
        calls.clear()
        warm = await client.get("/")
    assert cold.content == data
    assert warm.content == data
    assert from_disk
    assert not from_disk[0], "the first, uncached slice was sent on the loop"
    assert calls
    assert all(calls), "a cached file was sent from a thread"
