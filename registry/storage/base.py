"""The storage driver contract.

A driver stores opaque byte objects under slash-separated paths (``/blobs/sha256/ab/abcd…/data``).
It knows nothing of OCI: the layout above it lives in :mod:`registry.storage.layout`. Every method
is a coroutine; drivers whose client library blocks (boto3, the file system) run the blocking part
in a worker thread so the event loop never waits on I/O.

Paths are absolute (start with ``/``), use ``/`` as separator and contain only
``[A-Za-z0-9._-]`` segments; :func:`check_path` enforces that before any driver sees one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol, runtime_checkable

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


class StorageError(Exception):
    """Base of every error a driver raises."""

    def __init__(self, path: str, driver: str, detail: str = "") -> None:
        self.path = path
        self.driver = driver
        self.detail = detail
        super().__init__(f"{driver}: {path}: {detail}" if detail else f"{driver}: {path}")


class PathNotFoundError(StorageError):
    """Nothing is stored at the path."""


class InvalidPathError(StorageError):
    """The path is not of the allowed form."""


class InvalidOffsetError(StorageError):
    """A read or resumed write starts beyond the end of the stored object."""


def check_path(path: str, driver: str = "storage") -> str:
    """Return ``path`` when it is absolute and every segment is safe, else raise."""
    if not path.startswith("/") or (path.endswith("/") and path != "/"):
        raise InvalidPathError(path, driver, "paths are absolute and do not end with /")
    if path == "/":
        return path
    for segment in path[1:].split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise InvalidPathError(path, driver, f"bad segment {segment!r}")
    return path


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    modified: datetime
    is_dir: bool = False


@runtime_checkable
class FileWriter(Protocol):
    """An open, appendable object. Bytes become visible at the path only after :meth:`commit`."""

    @property
    def size(self) -> int:
        """Bytes written so far, including those written before a resume."""
        ...

    async def write(self, data: bytes) -> None:
        """Append ``data``. Drivers may buffer; a crash before :meth:`close` may lose the tail.

        Raises StorageError once the writer is closed, committed or cancelled.
        """
        ...

    async def close(self) -> None:
        """Flush and release the writer so another process may resume it with ``append=True``.

        Closing twice, or after commit or cancel, does nothing.
        """
        ...

    async def rollback(self) -> None:
        """Drop every byte written through this writer and release it: the object stays
        resumable at the size it had when this writer was opened (for a request cut off
        mid-body). Does nothing after close, commit or cancel."""
        ...

    async def commit(self) -> None:
        """Make the written bytes readable at the path, replacing what was there (an empty object
        when nothing was written). The writer is closed afterwards."""
        ...

    async def cancel(self) -> None:
        """Discard everything written, including earlier sessions' bytes; also allowed after
        :meth:`close`. Does nothing after :meth:`commit`."""
        ...


@runtime_checkable
class StorageDriver(Protocol):
    """Filesystem-shaped object storage, after CNCF Distribution's driver interface."""

    name: str

    async def get_content(self, path: str) -> bytes:
        """Return the whole object. Only for small objects; raises PathNotFoundError."""
        ...

    async def put_content(self, path: str, content: bytes) -> None:
        """Store ``content`` at ``path`` atomically, replacing what was there."""
        ...

    def reader(self, path: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream the object from ``offset`` for ``length`` bytes (to the end when None).

        Raises PathNotFoundError, or InvalidOffsetError when ``offset`` is past the end, on the
        first iteration.
        """
        ...

    async def writer(
        self, path: str, append: bool = False, offset: int | None = None
    ) -> FileWriter:
        """Open a writer. With ``append`` it resumes an uncommitted writer closed earlier,
        possibly by another process, and raises PathNotFoundError when there is none; without, it
        starts empty (discarding any earlier one). A committed object is never resumed.

        ``offset`` (with ``append``) is where the resumed writer continues, as the caller
        recorded it: bytes stored beyond it, left by a writer that died or was cut off before
        its caller recorded them, are dropped. Raises InvalidOffsetError when fewer bytes are
        stored, or when the driver cannot cut back to ``offset``.
        """
        ...

    async def stat(self, path: str) -> FileInfo:
        """Size and modification time of an object, or a directory (prefix) entry with
        ``is_dir`` and size 0. ``/`` is always a directory. Raises PathNotFoundError."""
        ...

    async def list(self, path: str) -> list[str]:
        """Full paths of the direct children of a directory (prefix), sorted.

        Raises PathNotFoundError when ``path`` is no directory; ``/`` lists as empty. A directory
        holding only uncommitted writers lists as empty too.
        """
        ...

    async def move(self, source: str, dest: str) -> None:
        """Move an object (not a directory), replacing ``dest`` and creating its parents.

        Raises PathNotFoundError for a missing source. Moving onto itself changes nothing.
        """
        ...

    async def delete(self, path: str) -> None:
        """Delete an object or a whole directory (prefix), with any uncommitted writer there.

        Raises PathNotFoundError when nothing is there. Directories left empty disappear.
        """
        ...

    async def delete_objects(self, paths: Sequence[str]) -> None:
        """Delete these objects (not directories, nor writers at them) in as few requests as
        the store allows; those already gone are skipped. Directories left empty disappear.
        """
        ...

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        """A URL a client may fetch the object from directly, or None when unsupported.

        ``method`` is ``GET`` or ``HEAD``; other methods get None.
        """
        ...

    async def open_file(self, path: str) -> IO[bytes] | None:
        """The object opened as a local file, for the kernel to send it without copying it
        through Python (the caller closes it), or None when the driver keeps objects elsewhere.

        A driver that opens files raises PathNotFoundError when nothing is there.
        """
        ...

    def walk(self, path: str) -> AsyncIterator[FileInfo]:
        """Every object below ``path`` (not directories), in no particular order.

        Raises PathNotFoundError, on the first iteration, when ``path`` is no directory; ``/``
        walks as empty.
        """
        ...
