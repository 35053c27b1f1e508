"""Read deadlines for slow clients, on uvicorn's real HTTP protocol.

Each connection is one end of an in-process socket pair, served by the protocol on the test's
own event loop. The protocol's clock is the test's: its timers fire only when a test moves
the clock on, so no deadline depends on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
import uvicorn
from uvicorn.server import ServerState

from registry.config import Settings
from registry.http_protocol import GuardedHttpProtocol

HEADER_TIMEOUT = 15.0
BODY_IDLE_TIMEOUT = 60.0
# Real seconds a test waits for sockets and tasks to catch up; never part of a deadline.
CATCH_UP = 2.0

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Clock:
    """The event loop as the protocol sees it, with time under the test's control: timers it
    sets fire when the test advances the clock; everything else is the real loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.now = 1000.0
        self._timers: list[asyncio.TimerHandle] = []

    def time(self) -> float:
        return self.now

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: object,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(self.now + delay, callback, args, self._loop, context)
        self._timers.append(handle)
        return handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        while due := sorted(
            (t for t in self._timers if t.when() <= self.now and not t.cancelled()),
            key=lambda t: t.when(),
        ):
            for timer in due:
                self._timers.remove(timer)
                timer._run()
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(int(CATCH_UP / 0.001)):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the server did not get there")


@dataclass
class Connection:
    protocol: GuardedHttpProtocol
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> tuple[bytes, bytes]:
        """(status line, body) of the next response."""
        async with asyncio.timeout(CATCH_UP):
            status = await self.reader.readline()
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return status.rstrip(), await self.reader.readexactly(length)

    async def open(self) -> bool:
        await asyncio.sleep(0.01)  # let anything the server did reach this end
        return not self.protocol.transport.is_closing() and not self.reader.at_eof()

    async def closed_by_server(self) -> bytes:
        """Everything the server sent before closing (fails if it does not close)."""
        async with asyncio.timeout(CATCH_UP):
            return await self.reader.read()


@dataclass
class Server:
    clock: Clock
    received: list[int]  # body bytes the application has been handed, per request
    connect: Callable[[], Awaitable[Connection]]


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    monkeypatch.setattr(GuardedHttpProtocol, "header_timeout", HEADER_TIMEOUT)
    monkeypatch.setattr(GuardedHttpProtocol, "body_idle_timeout", BODY_IDLE_TIMEOUT)
    monkeypatch.setattr(GuardedHttpProtocol, "max_pending", 512)
    loop = asyncio.get_running_loop()
    clock = Clock(loop)
    received: list[int] = []

    async def echo_length(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Answers with the number of body bytes it received."""
        received.append(0)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            received[-1] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        answer = str(received[-1]).encode()
        headers = [(b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    # Kept-alive connections idle longer than any test moves the clock between requests.
    config = uvicorn.Config(
        echo_length, log_config=None, lifespan="off", timeout_keep_alive=int(HEADER_TIMEOUT * 2)
    )
    state = ServerState()
    connections: list[Connection] = []

    async def connect() -> Connection:
        server_side, client_side = socket.socketpair()
        made: list[GuardedHttpProtocol] = []

        def protocol() -> GuardedHttpProtocol:
            made.append(
                GuardedHttpProtocol(config, state, {}, _loop=cast(asyncio.AbstractEventLoop, clock))
            )
            return made[-1]

        await loop.connect_accepted_socket(protocol, server_side)
        reader, writer = await asyncio.open_connection(sock=client_side)
        connections.append(Connection(made[0], reader, writer))
        return connections[-1]

    yield Server(clock, received, connect)
    for connection in connections:
        connection.writer.close()
        await connection.writer.wait_closed()
    for task in list(state.tasks):
        await task
    await until(lambda: not GuardedHttpProtocol._waiting)


REQUEST_HEAD = b"POST /v2/ HTTP/1.1\r\nHost: registry.example\r\nContent-Length: 6\r\n\r\n"


async def test_a_prompt_request_is_answered_and_the_connection_kept(server: Server) -> None:
    connection = await server.connect()
    await server.clock.advance(HEADER_TIMEOUT * 0.9)
    await connection.send(REQUEST_HEAD + b"abcdef")
    assert await connection.answer() == (b"HTTP/1.1 200 OK", b"6")
    # The next request on the connection has a head deadline of its own.
    await server.clock.advance(HEADER_TIMEOUT * 0.9)
    await connection.send(REQUEST_HEAD + b"123456")
    assert await connection.answer() == (b"HTTP/1.1 200 OK", b"6")


async def test_a_silent_connection_is_cut_off_at_the_head_deadline(server: Server) -> None:
    connection = await server.connect()
    await server.clock.advance(HEADER_TIMEOUT - 1)
    assert await connection.open()
    await server.clock.advance(1)
    assert await connection.closed_by_server() == b""


async def test_a_head_that_trickles_in_is_cut_off_however_steadily_it_comes(
    server: Server,
) -> None:
    connection = await server.connect()
    for part in (b"POST /v2/ HTTP/1.1\r\n", b"Host: registry", b".example\r\n"):
        await connection.send(part)
        await server.clock.advance(HEADER_TIMEOUT / 4)
    assert await connection.open()
    await server.clock.advance(HEADER_TIMEOUT / 4)
    assert await connection.closed_by_server() == b""


async def test_a_body_that_stops_half_way_is_cut_off(server: Server) -> None:
    connection = await server.connect()
    await connection.send(REQUEST_HEAD + b"abc")
    await until(lambda: server.received == [3])
    await server.clock.advance(BODY_IDLE_TIMEOUT - 1)
    assert await connection.open()
    await server.clock.advance(1)
    assert await connection.closed_by_server() == b""


async def test_a_slow_body_that_keeps_coming_is_not_cut_off(server: Server) -> None:
    connection = await server.connect()
    await connection.send(REQUEST_HEAD)
    await until(lambda: connection.protocol._reading_body)
    # Six bytes over more than five idle deadlines, no gap as long as one.
    for sent, byte in enumerate(b"abcdef", start=1):
        await server.clock.advance(BODY_IDLE_TIMEOUT * 0.9)
        await connection.send(bytes([byte]))
        await until(lambda sent=sent: server.received == [sent])  # type: ignore[misc]
    assert await connection.answer() == (b"HTTP/1.1 200 OK", b"6")


async def test_the_longest_waiting_client_makes_room_when_too_many_wait(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GuardedHttpProtocol, "max_pending", 2)
    oldest, second, third = await server.connect(), await server.connect(), await server.connect()
    assert await oldest.closed_by_server() == b""
    # The two younger ones still get their requests answered.
    for connection in (second, third):
        await connection.send(REQUEST_HEAD + b"abcdef")
        assert await connection.answer() == (b"HTTP/1.1 200 OK", b"6")


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


async def test_an_http10_client_that_asks_keeps_its_connection(server: Server) -> None:
    connection = await server.connect()
    head = b"POST /v2/ HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n"
    for body in (b"abc", b"xyz"):
        await connection.send(head + body)
        status = await connection.reader.readline()
        headers = await connection.reader.readuntil(b"\r\n\r\n")
        assert status.rstrip() == b"HTTP/1.1 200 OK"
        assert b"connection: keep-alive\r\n" in headers.lower()
        assert await connection.reader.readexactly(1) == b"3"
    assert await connection.open()


async def test_an_http10_client_that_does_not_ask_is_answered_and_closed(server: Server) -> None:
    connection = await server.connect()
    await connection.send(b"POST /v2/ HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    answer = await connection.closed_by_server()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in answer.lower()
    assert answer.endswith(b"\r\n\r\n3")
