"""The ASGI ``http.response.zerocopy`` extension for uvicorn's httptools protocol.

uvicorn sends every response body through ``transport.write``: a blob download would be read
in worker threads, a chunk per thread hop, and each chunk queued in the transport. With this
extension an app hands over an open file, an offset and a count instead, and the protocol moves
the bytes itself, in one of three ways (``BERTH_BLOB_SEND``):

* ``mmap`` (the default): a worker thread maps the file a window at a time and faults the
  window in (``MADV_POPULATE_READ``, reading from disk what is not cached), and the loop writes
  the socket straight from the mapping: one copy, page cache to socket;
* ``copy``: the file is read into one buffer per response with ``preadv2(RWF_NOWAIT)``, which
  answers from the page cache without blocking the event loop (a worker thread reads what is
  not cached), and the buffer is written to the socket: two copies;
* ``sendfile``: the kernel moves page cache to socket (``os.sendfile``), no copy by the server.

Measured on loopback in a 2-core VM, 256 MiB from page cache, two HTTP processes, eight curl
clients at once (medians of 8 runs, alternating): ``mmap`` 3.6-3.8 GB/s at 0.28 CPU-seconds of
the server per GiB, ``copy`` 3.4-3.5 GB/s at 0.34, ``sendfile`` 3.3 GB/s at 0.18, because a
loopback receiver copies sendfile's page references slowly, at twice the CPU (the kernel's
copies and loopback delivery are over 90% of the server's profile either way). Where the
receiver is across a network card, ``sendfile`` may well win. A kernel or file system that
refuses the mapping (before Linux 5.14, no ``MADV_POPULATE_READ``) gets ``copy``.

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
import mmap
import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from registry.http_access_log import log_request

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
SendMode = Literal["copy", "mmap", "sendfile"]
# Reads that never wait for the disk: absent off Linux, refused by some file systems.
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
_NOWAIT_REFUSED = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})
# The mapped send maps the file this much at a time, the next window while one is written:
# at most two windows (16 MiB) of page cache count towards a response's RSS.
MAP_WINDOW = 8 * 1024 * 1024
# Faults a window's pages in (reading what is not cached) without touching them from Python:
# Linux 5.14, a name Python 3.11's mmap module lacks.
_POPULATE_READ: int = getattr(mmap, "MADV_POPULATE_READ", 22)
# Errors that say this system cannot map or populate files: the copy takes over.
_MAP_REFUSED = frozenset({errno.EINVAL, errno.ENODEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EACCES})
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
    send_mode: ClassVar[SendMode] = "mmap"

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
    out = os.dup(sock.fileno())
    try:
        if cycle.send_mode == "sendfile":
            return await _sendfile(out, fd, offset, count, cycle)
        if cycle.send_mode == "mmap" and _Mapped.usable:
            return await _Mapped(out, fd, cycle).send(offset, count)
        return await _copy(out, fd, offset, count, cycle)
    finally:
        os.close(out)


async def _sendfile(out: int, fd: int, offset: int, count: int, cycle: ZeroCopyCycle) -> int:
    loop = asyncio.get_running_loop()
    sent = 0
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
    return sent


class _Mapped:
    """The mapped send: each window of the file is mapped and faulted in by a worker thread
    (so the disk never blocks the loop) while the window before it is written to the socket
    straight from the mapping, one copy fewer than reading into a buffer. Python never reads
    the mapping itself, so a file cut short under it fails the write (EFAULT), not the process
    (SIGBUS)."""

    # Set once mapping or populating a file is refused here; the copy is used from then on.
    usable: ClassVar[bool] = True

    def __init__(self, out: int, fd: int, cycle: ZeroCopyCycle) -> None:
        self._out = out
        self._fd = fd
        self._cycle = cycle

    async def send(self, offset: int, count: int) -> int:
        end = offset + count
        # Mappings start on a page boundary; the first window skips the bytes before offset.
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        sent = 0
        upcoming: asyncio.Future[mmap.mmap] | None = self._map_soon(start, end)
        try:
            while upcoming is not None and not self._cycle.disconnected:
                try:
                    window = await upcoming
                except OSError as exc:
                    if exc.errno not in _MAP_REFUSED:
                        raise
                    _Mapped.usable = False
                    upcoming = None
                    return sent + await _copy(
                        self._out, self._fd, offset + sent, count - sent, self._cycle
                    )
                window_end = start + len(window)
                upcoming = self._map_soon(window_end, end) if window_end < end else None
                skip = max(offset - start, 0)
                wanted = window_end - start - skip
                # No slice of the mapping outlives the write (not even in a traceback's frame),
                # so the window can always be unmapped here.
                with window, memoryview(window) as view:
                    written = await self._write(view, skip)
                sent += written
                if written < wanted:  # the client went away
                    return sent
                start = window_end
            return sent
        finally:
            if upcoming is not None:  # its thread may still be mapping: unmap when it is done
                upcoming.add_done_callback(_close_unused)

    def _map_soon(self, start: int, end: int) -> asyncio.Future[mmap.mmap]:
        return asyncio.ensure_future(
            asyncio.to_thread(_map_window, self._fd, start, min(MAP_WINDOW, end - start))
        )

    async def _write(self, view: memoryview, skip: int) -> int:
        """Write ``view`` from ``skip`` on; the bytes written, fewer if the client went away."""
        loop = asyncio.get_running_loop()
        position = skip
        while position < len(view):
            try:
                position += os.write(self._out, view[position:])
            except BlockingIOError:
                await _writable(loop, self._out)
            except (ConnectionError, TimeoutError):
                break
            except OSError as exc:
                if exc.errno == errno.EFAULT:  # the file was cut short under the mapping
                    raise RuntimeError("file ended before the announced count") from None
                raise
            if self._cycle.disconnected:
                break
        return position - skip


def _map_window(fd: int, start: int, length: int) -> mmap.mmap:
    try:
        window = mmap.mmap(fd, length, offset=start, prot=mmap.PROT_READ)
    except ValueError as exc:  # mmap checks the length against the file's size
        raise RuntimeError("file ended before the announced count") from exc
    try:
        window.madvise(_POPULATE_READ)
    except OSError as exc:
        window.close()
        if exc.errno == errno.EFAULT:  # cut short after it was mapped
            raise RuntimeError("file ended before the announced count") from exc
        raise
    return window


def _close_unused(future: asyncio.Future[mmap.mmap]) -> None:
    # Retrieving the exception also keeps asyncio from logging it as never retrieved.
    if not future.cancelled() and future.exception() is None:
        future.result().close()


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
