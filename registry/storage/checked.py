"""The wrapper every configured driver is served through.

It holds what each driver would otherwise repeat: paths are checked before a driver sees them, and
a failure that is not already a :class:`~registry.storage.base.StorageError` (an ``OSError``, a
botocore error) comes out as one naming the path and the driver, with the original as its cause.
Drivers keep only their raw logic.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from registry.storage.base import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    StorageDriver,
    StorageError,
    check_path,
)


@contextmanager
def _as_storage_error(path: str, driver: str) -> Iterator[None]:
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(path, driver, f"{type(exc).__name__}: {exc}") from exc


class CheckedDriver:
    """A :class:`~registry.storage.base.StorageDriver` that validates and adds error context."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        self.name = driver.name

    def _check(self, path: str) -> str:
        return check_path(path, self.name)

    async def get_content(self, path: str) -> bytes:
        with _as_storage_error(self._check(path), self.name):
            return await self.driver.get_content(path)

    async def put_content(self, path: str, content: bytes) -> None:
        with _as_storage_error(self._check(path), self.name):
            await self.driver.put_content(path, content)

    async def reader(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        self._check(path)
        if offset < 0 or (length is not None and length < 0):
            raise InvalidOffsetError(path, self.name, f"offset {offset}, length {length}")
        with _as_storage_error(path, self.name):
            chunks = self.driver.reader(path, offset, length)
            try:
                async for chunk in chunks:
                    yield chunk
            finally:
                # A caller that stops early closes the inner stream now, not at garbage collection.
                if isinstance(chunks, AsyncGenerator):
                    await chunks.aclose()

    async def writer(
        self, path: str, append: bool = False, offset: int | None = None
    ) -> FileWriter:
        self._check(path)
        if offset is not None and (offset < 0 or not append):
            raise InvalidOffsetError(path, self.name, f"offset {offset} without a resume")
        with _as_storage_error(path, self.name):
            return CheckedWriter(await self.driver.writer(path, append, offset), path, self.name)

    async def stat(self, path: str) -> FileInfo:
        with _as_storage_error(self._check(path), self.name):
            return await self.driver.stat(path)

    async def list(self, path: str) -> builtins.list[str]:
        with _as_storage_error(self._check(path), self.name):
            return await self.driver.list(path)

    async def move(self, source: str, dest: str) -> None:
        self._check(source)
        self._check(dest)
        with _as_storage_error(f"{source} -> {dest}", self.name):
            await self.driver.move(source, dest)

    async def delete(self, path: str) -> None:
        if self._check(path) == "/":
            raise InvalidPathError(path, self.name, "refusing to delete the root")
        with _as_storage_error(path, self.name):
            await self.driver.delete(path)

    async def delete_objects(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        for path in paths:
            if self._check(path) == "/":
                raise InvalidPathError(path, self.name, "refusing to delete the root")
        with _as_storage_error(paths[0], self.name):
            await self.driver.delete_objects(paths)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        with _as_storage_error(self._check(path), self.name):
            return await self.driver.redirect_url(path, method)

    async def open_file(self, path: str) -> IO[bytes] | None:
        with _as_storage_error(self._check(path), self.name):
            return await self.driver.open_file(path)

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        self._check(path)
        with _as_storage_error(path, self.name):
            infos = self.driver.walk(path)
            try:
                async for info in infos:
                    yield info
            finally:
                if isinstance(infos, AsyncGenerator):
                    await infos.aclose()


class CheckedWriter:
    """A :class:`~registry.storage.base.FileWriter` whose failures name the path and driver."""

    def __init__(self, writer: FileWriter, path: str, driver: str) -> None:
        self.writer = writer
        self.path = path
        self.driver = driver

    @property
    def size(self) -> int:
        return self.writer.size

    async def write(self, data: bytes) -> None:
        with _as_storage_error(self.path, self.driver):
            await self.writer.write(data)

    async def close(self) -> None:
        with _as_storage_error(self.path, self.driver):
            await self.writer.close()

    async def rollback(self) -> None:
        with _as_storage_error(self.path, self.driver):
            await self.writer.rollback()

    async def commit(self) -> None:
        with _as_storage_error(self.path, self.driver):
            await self.writer.commit()

    async def cancel(self) -> None:
        with _as_storage_error(self.path, self.driver):
            await self.writer.cancel()
