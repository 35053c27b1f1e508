"""The ASGI ``http.response.zerocopy`` extension for uvicorn's httptools protocol.

uvicorn sends every response body through ``transport.write``: a blob download would be read
in worker threads, a chunk per thread hop, and each chunk queued in the transport. With this
extension an app hands over an open file, an offset and a count instead, and the protocol moves
the bytes itself, in one of two ways (``BERTH_BLOB_SEND``):

* ``sendfile`` (the default): the kernel moves page cache to socket (``os.sendfile``), no copy
  by the server. Before each call a one-byte ``preadv2(RWF_NOWAIT)`` at both ends of the slice
  asks whether it is cached; a slice that is not is sent from a worker thread, so the disk
  never blocks the event loop;
* ``copy``: the file is read into one buffer per response with ``preadv2(RWF_NOWAIT)``, which
  answers from the page cache without blocking the event loop (a worker thread reads what is
  not cached), and the buffer is written to the socket.

Measured on loopback in a 2-core VM, 256 MiB from page cache, two HTTP processes, curl
clients, alternating (medians of 7): one pull ``sendfile`` 4.8-4.9 GB/s, ``copy`` 3.6-4.0;
eight at once 4.2-4.6 and 4.6-4.7 GB/s; the server's CPU per GiB 0.15 and 0.26 seconds. Those
figures are with :mod:`registry.loopback_pacing`: while BBR paced loopback connections,
sendfile managed 1.6-1.7 GB/s for one pull and copy looked the faster.

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
import errno
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from registry.http_access_log import log_request
from registry.loopback_pacing import unpace_loopback

EXTENSION = "http.response.zerocopy"
_DRAIN_POLL_SECONDS = 0.002
# One sendfile call moves at most this much, so a fast reader cannot hold the loop long.
_SENDFILE_SLICE = 8 * 1024 * 1024


def _copy_buffer_bytes() -> int:
    """The copy's buffer, per response for as long as it sends: 3/8 of a core's L2 cache
    (768 KiB of 2 MiB), within 256 KiB-1 MiB. The buffer and the kernel's copy of it into
    the socket then stay in that cache: on a 2-core VM with 2 MiB of L2 per core, a 256 MiB
    pull by curl ran at 3.1-3.3 GB/s (median of 10) with 768 KiB, 2.5-2.9 with 512 KiB and
    2.2-2.4 with 1 MiB."""
    try:
        text = Path("/sys/devices/system/cpu/cpu0/cache/index2/size").read_text().strip()
        unit = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
        l2 = int(text.rstrip("KM")) * unit
    except (OSError, ValueError):
        l2 = 2 * 1024 * 1024
    return max(256 * 1024, min(1024 * 1024, l2 * 3 // 8 // 4096 * 4096))


COPY_BUFFER = _copy_buffer_bytes()
SendMode = Literal["copy", "sendfile"]
# Reads that never wait for the disk: absent off Linux, refused by some file systems.
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
_NOWAIT_REFUSED = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
# The one byte :func:`_cached` reads; only ever used on the event loop's thread.
_PROBE = bytearray(1)
# A client that takes nothing for this long is dropped, rather than holding the file open.
STALL_SECONDS = 300.0


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def advertise(scope: dict[str, Any]) -> None:
    """Tell the app, through its scope, that it may send zero-copy messages."""
    scope.setdefault("extensions", {})[EXTENSION] = {}


class ZeroCopyCycle(RequestResponseCycle):
    """uvicorn's request/response cycle that also takes ``http.response.zerocopy``, keeps an
    HTTP/1.0 connection open when its client asked (``announce_keep_alive``) and writes the
    access log line itself (:mod:`registry.http_access_log`)."""

    announce_keep_alive = False
    send_mode: ClassVar[SendMode] = "sendfile"

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            if self.announce_keep_alive:
                message = self._kept_alive(message)
            if self.access_log:
                # The same line uvicorn would log, for a fraction of its cost.
                self.access_log = False
                log_request(self.access_logger, self.scope, message["status"])
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
            sent = await _send_file(self.transport, fd, offset, count, self)
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


async def _send_file(
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
    unpace_loopback(sock)
    out = os.dup(sock.fileno())
    try:
        if cycle.send_mode == "sendfile":
            return await _sendfile(out, fd, offset, count, cycle)
        return await _copy(out, fd, offset, count, cycle)
    finally:
        os.close(out)


async def _sendfile(out: int, fd: int, offset: int, count: int, cycle: ZeroCopyCycle) -> int:
    loop = asyncio.get_running_loop()
    sent = 0
    while sent < count and not cycle.disconnected:
        position = offset + sent
        piece = min(count - sent, _SENDFILE_SLICE)
        try:
            if _cached(fd, position, piece):
                n = os.sendfile(out, fd, position, piece)
            else:  # sendfile would read the disk: a thread's wait, not the loop's
                n = await asyncio.to_thread(os.sendfile, out, fd, position, piece)
        except BlockingIOError:
            await _writable(loop, out)
            continue
        except (ConnectionError, TimeoutError):
            return sent
        if n == 0:  # the file is shorter than promised
            raise RuntimeError("file ended before the announced count")
        sent += n
    return sent


def _cached(fd: int, position: int, length: int) -> bool:
    """Whether the first and the last byte of ``length`` bytes at ``position`` are in the page
    cache (a file's cached pages are nearly always one run; a hole between costs the loop one
    read). Where reads that never wait are missing or refused, nothing counts as cached."""
    if _NOWAIT is None:
        return False
    try:
        for at in (position, position + length - 1):
            os.preadv(fd, [_PROBE], at, _NOWAIT)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NOWAIT_REFUSED:
            return False
        raise
    return True


async def _copy(out: int, fd: int, offset: int, count: int, cycle: ZeroCopyCycle) -> int:
    loop = asyncio.get_running_loop()
    buffer = memoryview(bytearray(min(COPY_BUFFER, count)))
    nowait = _NOWAIT
    sent = 0
    while sent < count and not cycle.disconnected:
        piece = buffer[: min(len(buffer), count - sent)]
        n = -1
        if nowait is not None:
            try:
                n = os.preadv(fd, [piece], offset + sent, nowait)
            except BlockingIOError:  # not all in the page cache: the disk is a thread's wait
                pass
            except OSError as exc:
                if exc.errno not in _NOWAIT_REFUSED:
                    raise
                nowait = None
        if n < 0:
            n = await asyncio.to_thread(os.preadv, fd, [piece], offset + sent)
        if n == 0:  # the file is shorter than promised
            raise RuntimeError("file ended before the announced count")
        pending = piece[:n]
        while pending:
            try:
                written = os.write(out, pending)
            except BlockingIOError:
                await _writable(loop, out)
                continue
            except (ConnectionError, TimeoutError):
                return sent
            pending = pending[written:]
            sent += written
            if cycle.disconnected:
                return sent
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
