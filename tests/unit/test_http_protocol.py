"""Read deadlines for slow clients, on uvicorn's real HTTP protocol.

Each connection is one end of an in-process socket pair, served by the protocol on the test's
own event loop; the deadlines are cut to fractions of a second.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from registry.config import Settings
from registry.http_protocol import GuardedHttpProtocol

HEADER_TIMEOUT = 0.1
BODY_IDLE_TIMEOUT = 0.15
# Longer than any test waits: a connection closed within it was closed by the guard.
CLOSED_WITHIN = 2.0

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def echo_length(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers with the number of body bytes it received."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    answer = str(size).encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@dataclass
class Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> tuple[bytes, bytes]:
        """(status line, body) of the next response."""
        async with asyncio.timeout(CLOSED_WITHIN):
            status = await self.reader.readline()
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return status.rstrip(), await self.reader.readexactly(length)

    async def closed_by_server(self) -> bytes:
        """Everything the server sent before closing (fails if it does not close)."""
        async with asyncio.timeout(CLOSED_WITHIN):
            return await self.reader.read()


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GuardedHttpProtocol, "header_timeout", HEADER_TIMEOUT)
    monkeypatch.setattr(GuardedHttpProtocol, "body_idle_timeout", BODY_IDLE_TIMEOUT)
    monkeypatch.setattr(GuardedHttpProtocol, "max_pending", 512)


@pytest.fixture
async def connect(guarded: None) -> AsyncIterator[Callable[[], Awaitable[Client]]]:
    loop = asyncio.get_running_loop()
    config = uvicorn.Config(echo_length, log_config=None, lifespan="off")
    state = ServerState()
    clients: list[Client] = []

    async def open_connection() -> Client:
        server_side, client_side = socket.socketpair()
        await loop.connect_accepted_socket(
            lambda: GuardedHttpProtocol(config, state, {}, _loop=loop), server_side
        )
        reader, writer = await asyncio.open_connection(sock=client_side)
        clients.append(Client(reader, writer))
        return clients[-1]

    yield open_connection
    for client in clients:
        client.writer.close()
        await client.writer.wait_closed()
    for task in list(state.tasks):
        await task
    await asyncio.sleep(0)  # let the server sides see their connections go
    assert not GuardedHttpProtocol._waiting


REQUEST_HEAD = b"POST /v2/ HTTP/1.1\r\nHost: registry.example\r\nContent-Length: 6\r\n\r\n"


async def test_a_prompt_request_is_answered(connect: Callable[[], Awaitable[Client]]) -> None:
    client = await connect()
    await client.send(REQUEST_HEAD + b"abcdef")
    assert await client.answer() == (b"HTTP/1.1 200 OK", b"6")
    # The connection stays open for the next request.
    await client.send(REQUEST_HEAD + b"123456")
    assert await client.answer() == (b"HTTP/1.1 200 OK", b"6")


async def test_a_head_that_trickles_past_the_deadline_is_cut_off(
    connect: Callable[[], Awaitable[Client]],
) -> None:
    client = await connect()
    await client.send(b"POST /v2/ HTTP/1.1\r\nHost: registry")
    assert await client.closed_by_server() == b""


async def test_a_silent_connection_is_cut_off_at_the_head_deadline(
    connect: Callable[[], Awaitable[Client]],
) -> None:
    client = await connect()
    started = asyncio.get_running_loop().time()
    assert await client.closed_by_server() == b""
    assert asyncio.get_running_loop().time() - started >= HEADER_TIMEOUT * 0.9


async def test_a_body_that_stops_half_way_is_cut_off(
    connect: Callable[[], Awaitable[Client]],
) -> None:
    client = await connect()
    await client.send(REQUEST_HEAD + b"abc")
    assert await client.closed_by_server() == b""


async def test_a_slow_body_that_keeps_coming_is_not_cut_off(
    connect: Callable[[], Awaitable[Client]],
) -> None:
    client = await connect()
    await client.send(REQUEST_HEAD)
    # Six bytes over twice the idle deadline, none of the gaps as long as the deadline.
    for byte in b"abcdef":
        await asyncio.sleep(BODY_IDLE_TIMEOUT / 3)
        await client.send(bytes([byte]))
    assert await client.answer() == (b"HTTP/1.1 200 OK", b"6")


async def test_the_longest_waiting_client_makes_room_when_too_many_wait(
    connect: Callable[[], Awaitable[Client]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedHttpProtocol, "header_timeout", CLOSED_WITHIN * 2)
    monkeypatch.setattr(GuardedHttpProtocol, "max_pending", 2)
    oldest, second, third = await connect(), await connect(), await connect()
    assert await oldest.closed_by_server() == b""
    # The two younger ones still get their requests answered.
    for client in (second, third):
        await client.send(REQUEST_HEAD + b"abcdef")
        assert await client.answer() == (b"HTTP/1.1 200 OK", b"6")


def test_the_deadlines_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("header_timeout", "body_idle_timeout", "max_pending"):
        monkeypatch.setattr(GuardedHttpProtocol, name, getattr(GuardedHttpProtocol, name))
    GuardedHttpProtocol.configure(
        Settings(
            header_timeout_seconds=3.5,
            body_idle_timeout_seconds=42.0,
            max_pending_connections=7,
        )
    )
    assert GuardedHttpProtocol.header_timeout == 3.5
    assert GuardedHttpProtocol.body_idle_timeout == 42.0
    assert GuardedHttpProtocol.max_pending == 7
