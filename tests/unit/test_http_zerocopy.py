"""The zero-copy file send of ``berth serve``'s HTTP protocol, on a real uvicorn server."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from registry import http_zerocopy
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


@pytest.fixture(params=["mmap", "copy", "sendfile"])
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


def _mapped(path: Path) -> bool:
    return str(path) in Path("/proc/self/maps").read_text()


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> int:
    """Mapping windows of 64 KiB, so one response spans ~100 of them."""
    monkeypatch.setattr(http_zerocopy, "MAP_WINDOW", 64 * 1024)
    return 64 * 1024


@pytest.mark.parametrize("url", ["mmap"], indirect=True)
async def test_mapped_ranges_across_many_windows(
    url: str, content: tuple[Path, bytes], small_windows: int
) -> None:
    path, data = content
    # Ranges starting off a page boundary, ending inside, at and past a window's end.
    spans = [
        (0, SIZE),
        (1, 4095),
        (4095, small_windows + 2),
        (small_windows - 1, 3 * small_windows),
        (SIZE - 17, 17),
    ]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for offset, count in spans:
            got = await client.get("/", params={"offset": offset, "count": count})
            assert got.content == data[offset : offset + count], (offset, count)
    assert not _mapped(path)


@pytest.mark.parametrize("url", ["mmap"], indirect=True)
async def test_a_client_hanging_up_leaves_no_mapping_behind(
    url: str, content: tuple[Path, bytes], small_windows: int
) -> None:
    path, data = content
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await reader.readexactly(300_000)  # the head and a few windows; then hang up
    writer.close()
    await writer.wait_closed()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.get("/")).content == data
    for _ in range(100):  # the window being mapped when the client left is unmapped after
        if not _mapped(path):
            break
        await asyncio.sleep(0.02)
    assert not _mapped(path)


async def test_a_file_shorter_than_announced_cuts_the_response_off(
    url: str, content: tuple[Path, bytes]
) -> None:
    _, data = content
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/", params={"offset": SIZE - 10, "count": 100})
        # The server goes on answering.
        assert (await client.get("/", params={"count": 10})).content == data[:10]


@pytest.mark.parametrize("url", ["mmap"], indirect=True)
async def test_a_system_refusing_the_mapping_gets_the_copy(
    url: str, content: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = content
    # What a kernel before 5.14 answers for MADV_POPULATE_READ: EINVAL.
    monkeypatch.setattr(http_zerocopy, "_POPULATE_READ", 1_000_000)
    monkeypatch.setattr(http_zerocopy._Mapped, "usable", True)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        first = await client.get("/", params={"offset": 3})
        assert http_zerocopy._Mapped.usable is False
        second = await client.get("/")
    assert first.content == data[3:]
    assert second.content == data
