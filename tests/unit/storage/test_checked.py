"""The wrapper every configured driver is served through: paths are checked before the driver
sees them, and a driver's own failures come out as storage errors that name path and driver."""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import IO

import pytest

from registry.storage.base import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageError,
)
from registry.storage.checked import CheckedDriver

MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryWriter:
    def __init__(self, driver: MemoryDriver, path: str) -> None:
        self.driver = driver
        self.path = path
        self.data = b""

    @property
    def size(self) -> int:
        return len(self.data)

    async def write(self, data: bytes) -> None:
        self.driver.touch("write", self.path)
        self.data += data

    async def close(self) -> None:
        self.driver.touch("close", self.path)

    async def rollback(self) -> None:
        self.driver.touch("rollback", self.path)

    async def commit(self) -> None:
        self.driver.touch("commit", self.path)
        self.driver.objects[self.path] = self.data

    async def cancel(self) -> None:
        self.driver.touch("cancel", self.path)


class MemoryDriver:
    """Objects in a dict; records every call and fails with ``failure`` once it is set."""

    name = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls: list[tuple[str, str]] = []
        self.failure: Exception | None = None
        self.streams_closed = 0

    def touch(self, method: str, path: str) -> None:
        self.calls.append((method, path))
        if self.failure is not None:
            raise self.failure

    def _found(self, path: str) -> bytes:
        if path not in self.objects:
            raise PathNotFoundError(path, self.name)
        return self.objects[path]

    async def get_content(self, path: str) -> bytes:
        self.touch("get_content", path)
        return self._found(path)

    async def put_content(self, path: str, content: bytes) -> None:
        self.touch("put_content", path)
        self.objects[path] = content

    async def reader(
        self, path: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        try:
            self.touch("reader", path)
            data = self._found(path)[offset:]
            data = data if length is None else data[:length]
            for i in range(len(data)):
                yield data[i : i + 1]
                self.touch("reader", path)
        finally:
            self.streams_closed += 1

    async def writer(
        self, path: str, append: bool = False, offset: int | None = None
    ) -> FileWriter:
        self.touch("writer", path)
        return MemoryWriter(self, path)

    async def stat(self, path: str) -> FileInfo:
        self.touch("stat", path)
        return FileInfo(path, len(self._found(path)), MODIFIED)

    async def list(self, path: str) -> builtins.list[str]:
        self.touch("list", path)
        return sorted(p for p in self.objects if p.startswith(path.rstrip("/") + "/"))

    async def move(self, source: str, dest: str) -> None:
        self.touch("move", source)
        self.objects[dest] = self.objects.pop(source)

    async def delete(self, path: str) -> None:
        self.touch("delete", path)
        del self.objects[path]

    async def delete_objects(self, paths: Sequence[str]) -> None:
        for path in paths:
            self.touch("delete_objects", path)
            self.objects.pop(path, None)

    async def redirect_url(self, path: str, method: str = "GET") -> str | None:
        self.touch("redirect_url", path)
        return None

    async def open_file(self, path: str) -> IO[bytes] | None:
        self.touch("open_file", path)
        return None

    async def walk(self, path: str) -> AsyncIterator[FileInfo]:
        try:
            self.touch("walk", path)
            for name in await self.list(path):
                yield FileInfo(name, len(self.objects[name]), MODIFIED)
        finally:
            self.streams_closed += 1


@pytest.fixture
def inner() -> MemoryDriver:
    return MemoryDriver()


@pytest.fixture
def checked(inner: MemoryDriver) -> CheckedDriver:
    return CheckedDriver(inner)


async def drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def walk_all(infos: AsyncIterator[FileInfo]) -> list[str]:
    return [info.path async for info in infos]


def operations(driver: CheckedDriver, path: str) -> list[Callable[[], Awaitable[object]]]:
    return [
        lambda: driver.get_content(path),
        lambda: driver.put_content(path, b"x"),
        lambda: drain(driver.reader(path)),
        lambda: driver.writer(path),
        lambda: driver.stat(path),
        lambda: driver.list(path),
        lambda: driver.move(path, "/ok"),
        lambda: driver.move("/ok", path),
        lambda: driver.delete(path),
        lambda: driver.redirect_url(path),
        lambda: driver.open_file(path),
        lambda: walk_all(driver.walk(path)),
    ]


async def test_it_serves_the_driver_under_its_name(
    checked: CheckedDriver, inner: MemoryDriver
) -> None:
    assert checked.name == "memory"
    await checked.put_content("/blobs/a", b"hello")
    assert await checked.get_content("/blobs/a") == b"hello"
    assert await drain(checked.reader("/blobs/a", 1, 3)) == b"ell"
    assert (await checked.stat("/blobs/a")).size == 5
    assert await checked.list("/blobs") == ["/blobs/a"]
    assert await walk_all(checked.walk("/blobs")) == ["/blobs/a"]
    assert await checked.redirect_url("/blobs/a") is None
    assert await checked.open_file("/blobs/a") is None
    await checked.move("/blobs/a", "/blobs/b")
    await checked.delete("/blobs/b")
    assert inner.objects == {}


@pytest.mark.parametrize("path", ["relative", "/trailing/", "/a/../b", "/a/b!partial"])
async def test_a_bad_path_never_reaches_the_driver(
    checked: CheckedDriver, inner: MemoryDriver, path: str
) -> None:
    for operation in operations(checked, path):
        with pytest.raises(InvalidPathError) as refused:
            await operation()
        assert refused.value.driver == "memory"
    assert inner.calls == []


async def test_the_root_is_never_deleted(checked: CheckedDriver, inner: MemoryDriver) -> None:
    with pytest.raises(InvalidPathError, match="refusing to delete the root"):
        await checked.delete("/")
    with pytest.raises(InvalidPathError, match="refusing to delete the root"):
        await checked.delete_objects(["/blobs/a", "/"])
    with pytest.raises(InvalidPathError):
        await checked.delete_objects(["/blobs/a", "/blobs/../etc"])
    assert inner.calls == []


@pytest.mark.parametrize(("offset", "length"), [(-1, None), (0, -1)])
async def test_a_negative_read_range_is_refused(
    checked: CheckedDriver, inner: MemoryDriver, offset: int, length: int | None
) -> None:
    with pytest.raises(InvalidOffsetError, match=f"offset {offset}, length {length}"):
        await drain(checked.reader("/blobs/a", offset, length))
    assert inner.calls == []


@pytest.mark.parametrize(("append", "offset"), [(False, 0), (False, 5), (True, -1)])
async def test_a_writer_offset_only_resumes(
    checked: CheckedDriver, inner: MemoryDriver, append: bool, offset: int
) -> None:
    with pytest.raises(InvalidOffsetError, match="without a resume"):
        await checked.writer("/uploads/u/data", append=append, offset=offset)
    assert inner.calls == []
    await checked.writer("/uploads/u/data", append=True, offset=offset + 1)
    assert inner.calls == [("writer", "/uploads/u/data")]


async def test_a_driver_failure_names_path_and_driver_and_keeps_its_cause(
    checked: CheckedDriver, inner: MemoryDriver
) -> None:
    cause = PermissionError(13, "Permission denied")
    inner.failure = cause
    for operation in operations(checked, "/blobs/a"):
        with pytest.raises(StorageError) as failed:
            await operation()
        assert type(failed.value) is StorageError
        assert failed.value.driver == "memory"
        assert failed.value.path in ("/blobs/a", "/blobs/a -> /ok", "/ok -> /blobs/a")
        assert failed.value.detail == "PermissionError: [Errno 13] Permission denied"
        assert failed.value.__cause__ is cause


async def test_a_move_failure_names_both_paths(checked: CheckedDriver, inner: MemoryDriver) -> None:
    inner.failure = OSError("disk full")
    with pytest.raises(StorageError, match="memory: /a -> /b: OSError: disk full"):
        await checked.move("/a", "/b")


async def test_a_storage_error_of_the_driver_passes_unchanged(checked: CheckedDriver) -> None:
    with pytest.raises(PathNotFoundError) as missing:
        await checked.get_content("/blobs/missing")
    assert str(missing.value) == "memory: /blobs/missing"
    with pytest.raises(PathNotFoundError):
        await drain(checked.reader("/blobs/missing"))


async def test_a_failure_mid_stream_is_a_storage_error(
    checked: CheckedDriver, inner: MemoryDriver
) -> None:
    inner.objects["/blobs/a"] = b"abc"
    chunks = checked.reader("/blobs/a")
    assert await anext(chunks) == b"a"
    inner.failure = ConnectionResetError("peer went away")
    with pytest.raises(StorageError, match="ConnectionResetError: peer went away"):
        await anext(chunks)


async def test_stopping_early_closes_the_drivers_stream_at_once(
    checked: CheckedDriver, inner: MemoryDriver
) -> None:
    inner.objects["/blobs/a"] = b"abc"
    chunks = checked.reader("/blobs/a")
    assert await anext(chunks) == b"a"
    assert isinstance(chunks, AsyncGenerator)
    await chunks.aclose()
    assert inner.streams_closed == 1
    infos = checked.walk("/blobs")
    assert (await anext(infos)).path == "/blobs/a"
    assert isinstance(infos, AsyncGenerator)
    await infos.aclose()
    assert inner.streams_closed == 2


async def test_a_writer_failure_names_path_and_driver(
    checked: CheckedDriver, inner: MemoryDriver
) -> None:
    writer = await checked.writer("/uploads/u/data")
    await writer.write(b"abc")
    assert writer.size == 3
    inner.failure = OSError("disk full")
    steps = [lambda: writer.write(b"d"), writer.close, writer.rollback, writer.commit]
    for step in [*steps, writer.cancel]:
        with pytest.raises(StorageError, match="memory: /uploads/u/data: OSError: disk full"):
            await step()
    inner.failure = None
    await writer.commit()
    assert inner.objects == {"/uploads/u/data": b"abc"}
