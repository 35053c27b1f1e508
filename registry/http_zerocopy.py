"""The ASGI ``http.response.zerocopy`` extension for uvicorn's httptools protocol.

uvicorn sends every response body through ``transport.write``: a blob download is read into
Python in chunks and copied into the socket, which costs a core at a few GB/s. With this
extension an app hands over an open file, an offset and a count instead, and the kernel moves
the bytes from the page cache to the socket (``os.sendfile``) without Python touching them.

The message follows the ASGI zero-copy extension::

    {"type": "http.response.zerocopy", "file": <fd or file object>, "offset": int | None,
     "count": int | None, "more_body": bool}

It is only valid after ``http.response.start`` of a response with a ``Content-Length``
(never chunked). The file stays the app's to close.

The transport owns the socket and its place in the event loop, so the send goes through a
duplicate of the socket's descriptor, watched for writability by the loop (uvloop or asyncio)
while the transport itself writes nothing: its buffer is drained first and the app sends no
other message until the count is out.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

EXTENSION = "http.response.zerocopy"
_DRAIN_POLL_SECONDS = 0.002
# One sendfile call moves at most this much, so a fast reader cannot hold the loop long.
_SENDFILE_SLICE = 8 * 1024 * 1024
# A client that takes nothing for this long is dropped, rather than holding the file open.
STALL_SECONDS = 300.0


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def advertise(scope: dict[str, Any]) -> None:
    """Tell the app, through its scope, that it may send zero-copy messages."""
    scope.setdefault("extensions", {})[EXTENSION] = {}


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that also takes ``http.response.zerocopy``, and keeps
    an HTTP/1.0 connection open when its client asked (``announce_keep_alive``)."""

    announce_keep_alive = False

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and self.announce_keep_alive:
            message = self._kept_alive(message)
        if message["type"] != EXTENSION:
            await super().send(message)
            return
        if not self.response_started or self.response_complete or self.chunked_encoding:
            raise RuntimeError("http.response.zerocopy needs a started, Content-Length response")
        if self.disconnected:
            return
        file = message["file"]
        fd = file if isinstance(file, int) else file.fileno()
        offset = message.get("offset")
        if offset is None:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = os.fstat(fd).st_size - offset
        if count > self.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        if self.scope["method"] != "HEAD" and count:
            sent = await _sendfile(self.transport, fd, offset, count, self)
            if sent < count:  # the client went away: nothing more to say to it
                self.disconnected = True
                self.transport.close()
                return
            self.expected_content_length -= count
        await super().send(
            {
                "type": "http.response.body",
                "body": b"",
                "more_body": bool(message.get("more_body", False)),
            }
        )

    def _kept_alive(self, message: Any) -> Any:
        """An HTTP/1.0 client knows a response ended by its length alone: with one, the
        connection stays open and the answer says so; without, it closes as uvicorn would."""
        headers = list(message.get("headers") or [])
        if not any(name.lower() == b"content-length" for name, _ in headers):
            self.keep_alive = False
            return message
        return {**message, "headers": [*headers, (b"connection", b"keep-alive")]}


async def _sendfile(
    transport: asyncio.Transport, fd: int, offset: int, count: int, cycle: ZeroCopyCycle
) -> int:
    """Send ``count`` bytes of ``fd`` from ``offset`` on the transport's socket; the bytes sent,
    fewer when the connection closed first."""
    # What the transport still buffers (the response head) must reach the socket first.
    # It is a few hundred bytes the socket nearly always took at once; the transport has no
    # event for an emptied buffer, so the rare wait polls.
    while transport.get_write_buffer_size() and not transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(_DRAIN_POLL_SECONDS)
    sock = transport.get_extra_info("socket")
    if sock is None or transport.is_closing():
        return 0
    loop = asyncio.get_running_loop()
    out = os.dup(sock.fileno())
    sent = 0
    try:
        while sent < count and not cycle.disconnected:
            try:
                n = os.sendfile(out, fd, offset + sent, min(count - sent, _SENDFILE_SLICE))
            except BlockingIOError:
                await _writable(loop, out)
                continue
            except (ConnectionError, TimeoutError):
                return sent
            if n == 0:  # the file is shorter than promised
                raise RuntimeError("file ended before the announced count")
            sent += n
    finally:
        os.close(out)
    return sent


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await asyncio.wait_for(ready, STALL_SECONDS)
    finally:
        loop.remove_writer(fd)
