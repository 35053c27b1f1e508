"""Storage in a local (or mounted) directory.

A path maps to the same relative file below ``root``::

    <root>/
      blobs/sha256/ab/abcd…/data        an object
      uploads/<id>/data!partial         bytes of an uncommitted writer; commit renames it onto data
      uploads/<id>/data!tmp.<random>    put_content staging file, renamed onto data at once

Bookkeeping names hold ``!``, which :func:`~registry.storage.base.check_path` never accepts, so they
cannot collide with a stored path; list, walk and stat only show names that are valid paths.
"""

from __future__ import annotations

import asyncio
import builtins
import ctypes
import ctypes.util
import os
import secrets
import shutil
import stat as stat_mode
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from registry.storage.base import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageError,
    check_path,
)

_T = TypeVar("_T")

# Reads and buffered writes move this much per worker-thread hop.
CHUNK_SIZE = 1024 * 1024

_PARTIAL_SUFFIX = "!partial"
# Tries at creating a parent directory that concurrent deletes keep pruning.
_PARENT_ATTEMPTS = 10
_EPOCH = datetime.fromtimestamp(0, UTC)


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux's sync_file_range(SYNC_FILE_RANGE_WRITE): start writing a range back to disk
    without waiting for it. None where libc lacks it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int
    write = 2  # SYNC_FILE_RANGE_WRITE

    def start_writeback(descriptor: int, offset: int, count: int) -> None:
        call(descriptor, offset, count, write)  # advice only: a failure leaves it to fsync

    return start_writeback


# An upload's bytes start for the disk every WRITEBACK_BYTES as they arrive, so the fsync that
# completes the blob waits for the last stretch only, not for the whole blob at once.
_start_writeback = _load_sync_file_range()
WRITEBACK_BYTES = 8 * 1024 * 1024


def _sync_file(file: Path) -> None:
    """Put ``file``'s bytes on disk. A blob is named where readers find it (and acknowledged)
    only after this: otherwise a machine that loses power could keep the name, and PostgreSQL's
    record of the blob, over bytes that never reached the disk."""
    descriptor = os.open(file, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _visible(name: str) -> bool:
    try:
        check_path(f"/{name}")
    except InvalidPathError:
        return False
    return True


def _missing_ok_stat(file: Path) -> os.stat_result | None:
    try:
        return file.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None


async def _cancel_safe_open(opener: Callable[[], IO[bytes]]) -> IO[bytes]:
    """Run ``opener`` in a worker thread. A caller cancelled meanwhile (a client that hung up
    on a download) does not stop the thread: the file it opens is closed when it arrives
    instead of leaking until garbage collection."""
    opening = asyncio.ensure_future(asyncio.to_thread(opener))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(opening: asyncio.Future[IO[bytes]]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


class FilesystemDriver:
    """A :class:`~registry.storage.base.StorageDriver` over a directory tree."""

    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _local(self, path: str) -> Path:
        return self.root / path[1:]

    async def get_content(self, path: str) -> bytes:
        return await asyncio.to_thread(self._get_content, path)

    def _get_content(self, path: str) -> bytes:
        try:
            return self._local(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFoundError(path, self.name) from None

    async def put_content(self, path: str, content: bytes) -> None:
        await asyncio.to_thread(self._put_content, path, content)

    def _put_content(self, path: str, content: bytes) -> None:
        target = self._local(path)
        staging = target.with_name(f"{target.name}!tmp.{secrets.token_hex(8)}")
        file = self._with_parent(staging, lambda: open(staging, "xb"))  # noqa: SIM115 - closed below
        try:
            with file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(staging, target)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        self._sync_directories(target)

    async def reader(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        file = await _cancel_safe_open(lambda: self._open_at(path, offset))
        try:
            remaining = length
            while remaining is None or remaining > 0:
                size = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await asyncio.to_thread(file.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            file.close()

    def _open_at(self, path: str, offset: int) -> IO[bytes]:
        try:
            file = open(self._local(path), "rb")  # noqa: SIM115 - closed by the reader
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFoundError(path, self.name) from None
        try:
            size = os.fstat(file.fileno()).st_size
            if offset > size:
                raise InvalidOffsetError(path, self.name, f"offset {offset} > size {size}")
            file.seek(offset)
        except BaseException:
            file.close()
            raise
        return file

    async def writer(
        self, path: str, append: bool = False, offset: int | None = None
    ) -> FileWriter:
        return await asyncio.to_thread(self._open_writer, path, append, offset)

    def _open_writer(self, path: str, append: bool, offset: int | None) -> FileWriter:
        target = self._local(path)
        partial = target.with_name(target.name + _PARTIAL_SUFFIX)
        file: IO[bytes]
        if append:
            try:
                # Not "ab": that would create the file when there is nothing to resume, and
                # O_APPEND would put every write at the end, whatever the offset.
                file = open(partial, "r+b")  # noqa: SIM115 - owned by the writer
            except (FileNotFoundError, NotADirectoryError):
                raise PathNotFoundError(path, self.name, "no writer to resume") from None
            try:
                self._position(file, path, offset)
            except BaseException:
                file.close()
                raise
        else:
            # The writer owns the file from here on.
            file = self._with_parent(partial, lambda: open(partial, "wb"))  # noqa: SIM115
        return _FilesystemWriter(self, path, target, partial, file)

    def _position(self, file: IO[bytes], path: str, offset: int | None) -> None:
        """Seek to where the resumed writer continues, cutting off what lies beyond."""
        size = os.fstat(file.fileno()).st_size
        if offset is None:
            file.seek(size)
            return
        if offset > size:
            raise InvalidOffsetError(path, self.name, f"offset {offset} > stored {size}")
        if offset < size:
            file.truncate(offset)
        file.seek(offset)

    async def stat(self, path: str) -> FileInfo:
        return await asyncio.to_thread(self._stat, path)

    def _stat(self, path: str) -> FileInfo:
        info = _missing_ok_stat(self._local(path))
        if info is None:
            if path == "/":
                return FileInfo(path, 0, _EPOCH, is_dir=True)
            raise PathNotFoundError(path, self.name)
        is_dir = stat_mode.S_ISDIR(info.st_mode)
        modified = datetime.fromtimestamp(info.st_mtime, UTC)
        return FileInfo(path, 0 if is_dir else info.st_size, modified, is_dir)

    async def list(self, path: str) -> builtins.list[str]:
        return await asyncio.to_thread(self._list, path)

    def _list(self, path: str) -> builtins.list[str]:
        try:
            with os.scandir(self._local(path)) as entries:
                names = [entry.name for entry in entries]
        except FileNotFoundError:
            if path == "/":
                return []
            raise PathNotFoundError(path, self.name) from None
        except NotADirectoryError:
            raise PathNotFoundError(path, self.name, "not a directory") from None
        base = "" if path == "/" else path
        return sorted(f"{base}/{name}" for name in names if _visible(name))

    async def move(self, source: str, dest: str) -> None:
        await asyncio.to_thread(self._move, source, dest)

    def _move(self, source: str, dest: str) -> None:
        origin = self._local(source)
        if not origin.is_file():
            raise PathNotFoundError(source, self.name)
        target = self._local(dest)
        _sync_file(origin)
        self._with_parent(target, lambda: os.replace(origin, target))
        self._sync_directories(target)
        self._prune(origin.parent)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._delete, path)

    def _delete(self, path: str) -> None:
        target = self._local(path)
        found = False
        # An uncommitted writer for the path goes with it, as on S3.
        partial = target.with_name(target.name + _PARTIAL_SUFFIX)
        if path != "/" and _missing_ok_stat(partial) is not None:
            partial.unlink(missing_ok=True)
            found = True
        info = _missing_ok_stat(target)
        if info is not None:
            if stat_mode.S_ISDIR(info.st_mode):
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
            found = True
        if not found:
            raise PathNotFoundError(path, self.name)
        self._prune(target.parent)

    async def delete_objects(self, paths: Sequence[str]) -> None:
        await asyncio.to_thread(self._delete_objects, paths)

    def _delete_objects(self, paths: Sequence[str]) -> None:
        # Plain strings and os calls: per file, pathlib would cost as much as the unlink.
        root = str(self.root)
        for path in paths:
            target = root + path
            try:
                os.unlink(target)
            except (FileNotFoundError, IsADirectoryError):
                continue
            directory = os.path.dirname(target)
            while len(directory) > len(root) and directory.startswith(root + "/"):
                try:
                    os.rmdir(directory)
                except OSError:
                    break
                directory = os.path.dirname(directory)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        return None

    async def open_file(self, path: str) -> IO[bytes] | None:
        return await _cancel_safe_open(lambda: self._open_at(path, 0))

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        pending = [(self._local(path), path)]
        first = True
        while pending:
            directory, dir_path = pending.pop()
            try:
                files, subdirs = await asyncio.to_thread(self._scan, directory, dir_path)
            except (FileNotFoundError, NotADirectoryError):
                # Only the starting point must exist; a subdirectory may vanish meanwhile.
                if first and path != "/":
                    raise PathNotFoundError(path, self.name) from None
                files, subdirs = [], []
            first = False
            pending.extend(subdirs)
            for info in files:
                yield info

    def _scan(
        self, directory: Path, dir_path: str
    ) -> tuple[builtins.list[FileInfo], builtins.list[tuple[Path, str]]]:
        files: builtins.list[FileInfo] = []
        subdirs: builtins.list[tuple[Path, str]] = []
        base = "" if dir_path == "/" else dir_path
        with os.scandir(directory) as entries:
            for entry in entries:
                if not _visible(entry.name):
                    continue
                child = f"{base}/{entry.name}"
                try:
                    if entry.is_dir():
                        subdirs.append((Path(entry.path), child))
                        continue
                    info = entry.stat()
                except FileNotFoundError:
                    continue
                modified = datetime.fromtimestamp(info.st_mtime, UTC)
                files.append(FileInfo(child, info.st_size, modified))
        return files, subdirs

    def _with_parent(self, target: Path, action: Callable[[], _T]) -> _T:
        # delete() prunes empty directories, so a parent created here may vanish before the action
        # uses it when another process deletes a neighbour at the same moment; create it again.
        # mkdir(parents=True) itself trips over the same pruning: a level it just made vanishes
        # before the next one is made (FileNotFoundError), or one it found existing vanishes
        # before it checks that it is a directory (FileExistsError).
        for _ in range(_PARENT_ATTEMPTS):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileNotFoundError, FileExistsError):
                continue
            try:
                return action()
            except FileNotFoundError:
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        return action()

    def _sync_directories(self, target: Path) -> None:
        """Make the names leading to ``target`` durable, its directory's up to the root's: any
        level may have been made for it (a directory that did not change syncs at no cost)."""
        directory = target.parent
        while True:
            descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if directory == self.root or not directory.is_relative_to(self.root):
                return
            directory = directory.parent

    def _prune(self, directory: Path) -> None:
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


class _FilesystemWriter:
    """Bytes reach the file in a worker thread, about CHUNK_SIZE at a time, while the next
    batch arrives: :meth:`write` waits only for the batch before the one it hands over, so
    receiving (and hashing, on the event loop) overlaps the copy into the page cache. A failed
    batch is raised by the next call that waits for it."""

    def __init__(
        self, driver: FilesystemDriver, path: str, target: Path, partial: Path, file: IO[Any]
    ) -> None:
        self._driver = driver
        self._path = path
        self._target = target
        self._partial = partial
        self._file = file
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._in_flight: asyncio.Future[None] | None = None
        self._size = self._start = file.tell()
        self._closed = False
        self._committed = False
        self._written_back = self._start

    @property
    def size(self) -> int:
        return self._size

    async def write(self, data: bytes) -> None:
        self._ensure_open()
        # Held past this call, so it must not change under the thread.
        chunk = data if type(data) is bytes else bytes(data)
        self._size += len(chunk)
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        if self._pending_bytes < CHUNK_SIZE:
            return
        # Taken only once the previous batch is done: a caller cancelled while it waits
        # leaves these bytes pending, for close() to write, instead of dropping them.
        await self._settle()
        batch = self._take_pending()
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(self._write_out, batch))

    def _take_pending(self) -> list[bytes]:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        return batch

    async def _settle(self) -> None:
        """Wait for the batch in the worker thread; a cancelled caller leaves it running (it
        cannot be stopped) for whoever settles next."""
        if self._in_flight is not None:
            await asyncio.shield(self._in_flight)
            self._in_flight = None

    async def _settle_ignoring_failure(self) -> None:
        try:
            await self._settle()
        except Exception:  # the bytes are being dropped anyway
            self._in_flight = None

    def _write_out(self, batch: Sequence[bytes]) -> None:
        for chunk in batch:
            self._file.write(chunk)
        end = self._file.tell()
        if _start_writeback is not None and end - self._written_back >= WRITEBACK_BYTES:
            self._file.flush()
            _start_writeback(self._file.fileno(), self._written_back, end - self._written_back)
            self._written_back = end

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        batch = self._take_pending()
        try:
            await self._settle()
        except BaseException:
            await self._settle_ignoring_failure()
            await asyncio.to_thread(self._file.close)
            raise
        await asyncio.to_thread(self._flush_and_close, batch)

    def _flush_and_close(self, batch: Sequence[bytes]) -> None:
        try:
            self._write_out(batch)
        finally:
            self._file.close()

    async def rollback(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._take_pending()
        self._size = self._start
        await self._settle_ignoring_failure()
        await asyncio.to_thread(self._truncate_and_close)

    def _truncate_and_close(self) -> None:
        try:
            self._file.truncate(self._start)
        finally:
            self._file.close()

    async def commit(self) -> None:
        self._ensure_open()
        await self.close()
        await asyncio.to_thread(os.replace, self._partial, self._target)
        self._committed = True

    async def cancel(self) -> None:
        if self._committed:
            return
        if not self._closed:
            self._closed = True
            self._take_pending()
            await self._settle_ignoring_failure()
            await asyncio.to_thread(self._file.close)
        await asyncio.to_thread(self._discard)

    def _discard(self) -> None:
        self._partial.unlink(missing_ok=True)
        self._driver._prune(self._partial.parent)

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageError(self._path, self._driver.name, "writer is closed")
