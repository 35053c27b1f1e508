"""The storage driver contract: every driver passes every test here against its real backend."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import os
import resource
import time
import tracemalloc
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from registry.storage import (
    FileInfo,
    FilesystemDriver,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    create_driver,
)
from registry.storage.checked import CheckedDriver
from registry.storage.settings import StorageSettings
from tests.integration.storage.conftest import S3_PART_SIZE, Backend, empty_bucket, s3_settings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MiB = 1024 * 1024


def payload(size: int) -> bytes:
    """Random bytes, so that a lost, repeated or misplaced chunk cannot go unnoticed."""
    return os.urandom(size)


async def read_all(
    driver: StorageDriver, path: str, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in driver.reader(path, offset, length)])


# Content


async def test_put_and_get_content(driver: StorageDriver) -> None:
    content = payload(3000)
    await driver.put_content("/a/b/object", content)
    assert await driver.get_content("/a/b/object") == content
    info = await driver.stat("/a/b/object")
    assert (info.path, info.size, info.is_dir) == ("/a/b/object", 3000, False)
    await driver.delete("/a")


async def test_put_content_overwrites(driver: StorageDriver) -> None:
    await driver.put_content("/object", b"first version, longer")
    await driver.put_content("/object", b"second")
    assert await driver.get_content("/object") == b"second"
    assert (await driver.stat("/object")).size == 6
    await driver.delete("/object")


async def test_empty_content(driver: StorageDriver) -> None:
    await driver.put_content("/empty", b"")
    assert await driver.get_content("/empty") == b""
    assert await read_all(driver, "/empty") == b""
    assert (await driver.stat("/empty")).size == 0
    await driver.delete("/empty")


async def test_missing_paths_are_not_found(driver: StorageDriver) -> None:
    await driver.put_content("/present/object", b"x")
    for missing in ("/absent", "/present/other", "/present/object/below"):
        with pytest.raises(PathNotFoundError) as caught:
            await driver.get_content(missing)
        assert (caught.value.path, caught.value.driver) == (missing, driver.name)
        with pytest.raises(PathNotFoundError):
            await driver.stat(missing)
        with pytest.raises(PathNotFoundError):
            await read_all(driver, missing)
        with pytest.raises(PathNotFoundError):
            await driver.delete(missing)
        with pytest.raises(PathNotFoundError):
            await driver.move(missing, "/elsewhere")
        with pytest.raises(PathNotFoundError):
            await driver.list(missing)
        with pytest.raises(PathNotFoundError):
            [info async for info in driver.walk(missing)]
    # A directory is not an object.
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/present")
    await driver.delete("/present")


# Reader


async def test_reader_offset_and_length(driver: StorageDriver) -> None:
    content = payload(3 * MiB + 123)
    await driver.put_content("/object", content)
    size = len(content)
    cases = [
        (0, None),
        (0, size),
        (7, 10),
        (MiB - 1, MiB + 2),
        (size - 1, None),
        (size - 5, 100),  # runs past the end: stops there
        (size, None),  # at the end: empty, not an error
        (size, 10),
        (10, 0),
    ]
    for offset, length in cases:
        end = size if length is None else offset + length
        assert await read_all(driver, "/object", offset, length) == content[offset:end], (
            offset,
            length,
        )
    await driver.delete("/object")


async def test_reader_streams_in_chunks(driver: StorageDriver) -> None:
    await driver.put_content("/object", payload(5 * MiB))
    sizes = [len(chunk) async for chunk in driver.reader("/object")]
    assert sum(sizes) == 5 * MiB
    assert len(sizes) > 1
    assert max(sizes) <= 2 * MiB
    await driver.delete("/object")


async def test_reader_offset_past_end(driver: StorageDriver) -> None:
    await driver.put_content("/object", b"0123456789")
    with pytest.raises(InvalidOffsetError):
        await read_all(driver, "/object", 11)
    with pytest.raises(InvalidOffsetError):
        await read_all(driver, "/object", 11, 0)
    with pytest.raises(InvalidOffsetError):
        await read_all(driver, "/object", -1)
    await driver.put_content("/empty", b"")
    with pytest.raises(InvalidOffsetError):
        await read_all(driver, "/empty", 1)
    await driver.delete("/object")
    await driver.delete("/empty")


async def test_reader_stopped_early(driver: StorageDriver) -> None:
    await driver.put_content("/object", payload(4 * MiB))
    async with aclosing(driver.reader("/object")) as chunks:  # type: ignore[type-var]
        async for chunk in chunks:
            assert chunk
            break
    await driver.delete("/object")


# Writer


async def test_writer_write_and_commit(driver: StorageDriver) -> None:
    pieces = [payload(size) for size in (1, 1000, MiB, 3 * MiB + 7, 10)]
    writer = await driver.writer("/uploads/u1/data")
    assert writer.size == 0
    for piece in pieces:
        await writer.write(piece)
    assert writer.size == sum(map(len, pieces))
    # Nothing is visible before commit, and the driver's bookkeeping is never listed.
    with pytest.raises(PathNotFoundError):
        await driver.stat("/uploads/u1/data")
    await writer.commit()
    assert await read_all(driver, "/uploads/u1/data") == b"".join(pieces)
    assert await driver.list("/uploads/u1") == ["/uploads/u1/data"]
    await driver.delete("/uploads")


async def test_closed_writer_is_invisible_until_commit(backend: Backend) -> None:
    driver = backend.driver()
    writer = await driver.writer("/uploads/u1/data")
    await writer.write(b"some bytes")
    await writer.close()
    with pytest.raises(PathNotFoundError):
        await driver.get_content("/uploads/u1/data")
    assert await driver.list("/uploads/u1") == []
    assert [info async for info in driver.walk("/uploads")] == []
    resumed = await backend.driver().writer("/uploads/u1/data", append=True)
    await resumed.commit()
    assert await driver.get_content("/uploads/u1/data") == b"some bytes"
    await driver.delete("/uploads/u1")


async def test_writer_resumes_in_another_driver_instance(backend: Backend) -> None:
    pieces = [payload(3 * MiB), payload(4 * MiB + 1), payload(S3_PART_SIZE * 2 + 5)]
    path = "/uploads/u2/data"
    written = 0
    for index, piece in enumerate(pieces):
        writer = await backend.driver().writer(path, append=index > 0)
        assert writer.size == written
        await writer.write(piece)
        written += len(piece)
        assert writer.size == written
        await writer.close()
    writer = await backend.driver().writer(path, append=True)
    assert writer.size == written
    await writer.commit()
    driver = backend.driver()
    assert (await driver.stat(path)).size == written
    read = hashlib.sha256()
    async for chunk in driver.reader(path):
        read.update(chunk)
    assert read.digest() == hashlib.sha256(b"".join(pieces)).digest()
    await driver.delete("/uploads")


async def test_many_small_chunks_across_instances(backend: Backend) -> None:
    # Like a client PATCHing small chunks to whichever replica answers: every chunk is its own
    # writer session, opened on one of several independent driver instances.
    drivers = [backend.driver() for _ in range(3)]
    sizes = [64 * 1024] * 100 + [1, 7, 4095, 65537, 333_333, 1, 2 * MiB + 3]
    path = "/uploads/u3/data"
    expected = hashlib.sha256()
    written = 0
    for index, size in enumerate(sizes):
        chunk = payload(size)
        writer = await drivers[index % len(drivers)].writer(path, append=index > 0)
        assert writer.size == written
        await writer.write(chunk)
        await writer.close()
        expected.update(chunk)
        written += size
    writer = await drivers[0].writer(path, append=True)
    await writer.commit()
    stored = hashlib.sha256()
    async for chunk in drivers[1].reader(path):
        stored.update(chunk)
    assert stored.digest() == expected.digest()
    assert (await drivers[2].stat(path)).size == written
    await drivers[2].delete("/uploads/u3")


async def test_single_write_larger_than_parts(backend: Backend) -> None:
    content = payload(3 * S3_PART_SIZE + 11)
    writer = await backend.driver().writer("/big")
    await writer.write(content)
    await writer.close()
    writer = await backend.driver().writer("/big", append=True)
    await writer.write(content[:9])
    await writer.commit()
    driver = backend.driver()
    assert await driver.get_content("/big") == content + content[:9]
    await driver.delete("/big")


async def test_writer_cancel(backend: Backend) -> None:
    driver = backend.driver()
    writer = await driver.writer("/uploads/u4/data")
    await writer.write(payload(S3_PART_SIZE + 1))
    await writer.close()
    writer = await backend.driver().writer("/uploads/u4/data", append=True)
    await writer.write(b"more")
    await writer.cancel()
    with pytest.raises(PathNotFoundError):
        await driver.writer("/uploads/u4/data", append=True)
    with pytest.raises(PathNotFoundError):
        await driver.stat("/uploads/u4/data")
    # Cancelling a writer that was closed, and one that never wrote, leaves nothing either.
    writer = await driver.writer("/uploads/u5/data")
    await writer.write(b"abc")
    await writer.close()
    await writer.cancel()
    writer = await driver.writer("/uploads/u6/data")
    await writer.cancel()
    with pytest.raises(PathNotFoundError):
        await driver.writer("/uploads/u5/data", append=True)


async def test_empty_commit(backend: Backend) -> None:
    driver = backend.driver()
    writer = await driver.writer("/empty-fresh")
    await writer.commit()
    writer = await driver.writer("/empty-resumed")
    await writer.close()
    writer = await backend.driver().writer("/empty-resumed", append=True)
    assert writer.size == 0
    await writer.commit()
    for path in ("/empty-fresh", "/empty-resumed"):
        assert await driver.get_content(path) == b""
        assert (await driver.stat(path)).size == 0
        await driver.delete(path)


async def test_new_writer_discards_an_earlier_one(backend: Backend) -> None:
    writer = await backend.driver().writer("/data")
    await writer.write(payload(S3_PART_SIZE + 100))
    await writer.close()
    writer = await backend.driver().writer("/data")
    assert writer.size == 0
    await writer.write(b"fresh")
    await writer.commit()
    assert await backend.driver().get_content("/data") == b"fresh"
    await backend.driver().delete("/data")


async def test_commit_replaces_an_existing_object(driver: StorageDriver) -> None:
    await driver.put_content("/data", b"old")
    writer = await driver.writer("/data")
    await writer.write(b"new")
    await writer.commit()
    assert await driver.get_content("/data") == b"new"
    await driver.delete("/data")


async def test_resume_without_a_writer(driver: StorageDriver) -> None:
    with pytest.raises(PathNotFoundError):
        await driver.writer("/uploads/none/data", append=True)
    await driver.put_content("/committed", b"x")
    with pytest.raises(PathNotFoundError):
        await driver.writer("/committed", append=True)
    await driver.delete("/committed")


async def test_resume_at_offset_drops_what_lies_beyond(backend: Backend) -> None:
    # A session whose bytes reached the store but whose caller never recorded them (the
    # request was cut off, or its process died before the size was saved).
    first, stray, second = payload(S3_PART_SIZE + 3), payload(70_001), payload(2049)
    path = "/uploads/u7/data"
    writer = await backend.driver().writer(path)
    await writer.write(first)
    await writer.close()
    writer = await backend.driver().writer(path, append=True)
    await writer.write(stray)
    await writer.close()
    writer = await backend.driver().writer(path, append=True, offset=len(first))
    assert writer.size == len(first)
    await writer.write(second)
    await writer.commit()
    driver = backend.driver()
    assert await driver.get_content(path) == first + second
    await driver.delete("/uploads/u7")


async def test_resume_at_an_offset_beyond_the_stored_bytes(backend: Backend) -> None:
    path = "/uploads/u8/data"
    writer = await backend.driver().writer(path)
    await writer.write(b"0123456789")
    await writer.close()
    with pytest.raises(InvalidOffsetError):
        await backend.driver().writer(path, append=True, offset=11)
    with pytest.raises(InvalidOffsetError):
        await backend.driver().writer(path, append=False, offset=3)
    writer = await backend.driver().writer(path, append=True, offset=10)
    await writer.commit()
    assert await backend.driver().get_content(path) == b"0123456789"
    await backend.driver().delete("/uploads/u8")


async def test_rollback_keeps_what_earlier_writers_closed(backend: Backend) -> None:
    first = payload(1000)
    path = "/uploads/u9/data"
    writer = await backend.driver().writer(path)
    await writer.write(first)
    await writer.close()
    # Enough for the buffered drivers to have written part of it out already.
    cut_off = await backend.driver().writer(path, append=True)
    await cut_off.write(payload(S3_PART_SIZE + 5))
    await cut_off.rollback()
    await cut_off.rollback()
    with pytest.raises(StorageError):
        await cut_off.write(b"x")
    for offset in (None, len(first)):
        writer = await backend.driver().writer(path, append=True, offset=offset)
        assert writer.size == len(first)
        await writer.close()
    writer = await backend.driver().writer(path, append=True, offset=len(first))
    await writer.write(b"end")
    await writer.commit()
    assert await backend.driver().get_content(path) == first + b"end"
    await backend.driver().delete("/uploads/u9")


async def test_filesystem_writer_that_died_mid_write_is_cut_back(
    filesystem_backend: Backend,
) -> None:
    first = payload(4096)
    path = "/uploads/u10/data"
    writer = await filesystem_backend.driver().writer(path)
    await writer.write(first)
    await writer.close()
    # Written out (more than the buffer holds) but never closed, as by a process killed mid-PATCH.
    dead = await filesystem_backend.driver().writer(path, append=True)
    await dead.write(payload(2 * MiB))
    partial = filesystem_backend.data_dir / "storage/uploads/u10/data!partial"
    for _ in range(500):  # the writer's thread puts the batch in the file after write() returns
        if partial.stat().st_size == len(first) + 2 * MiB:
            break
        await asyncio.sleep(0.01)
    assert partial.stat().st_size == len(first) + 2 * MiB
    writer = await filesystem_backend.driver().writer(path, append=True, offset=len(first))
    await writer.write(b"resumed")
    await dead.close()  # only releases the descriptor: its buffer is empty
    await writer.commit()
    driver = filesystem_backend.driver()
    assert await driver.get_content(path) == first + b"resumed"
    await driver.delete("/uploads/u10")


async def test_filesystem_write_failure_in_the_background_is_raised(
    filesystem_backend: Backend,
) -> None:
    # Batches reach the file in a worker thread after write() returns; a disk that is full
    # (here /dev/full behind the writer's file) must fail the upload, not drop bytes silently.
    partial = filesystem_backend.data_dir / "storage/uploads/u13/data!partial"
    partial.parent.mkdir(parents=True)
    partial.symlink_to("/dev/full")
    writer = await filesystem_backend.driver().writer("/uploads/u13/data")

    async def upload() -> None:
        for _ in range(48):
            await writer.write(payload(64 * 1024))
        await writer.close()

    with pytest.raises(StorageError, match="No space left"):
        await upload()
    with contextlib.suppress(StorageError):  # /dev/full cannot be truncated
        await writer.rollback()
    partial.unlink()
    await filesystem_backend.driver().delete("/uploads/u13")


async def test_filesystem_write_cancelled_while_the_batch_before_is_written_loses_nothing(
    filesystem_backend: Backend,
) -> None:
    # A caller cancelled inside write(), while the previous batch is still going to the file:
    # its bytes stay with the writer, and a later commit still stores every byte in order.
    driver = filesystem_backend.driver()
    first, second = payload(64 * MiB), payload(MiB)
    writer = await driver.writer("/uploads/u14/data")
    await writer.write(first)  # handed to the thread; the next batch waits for it
    waiting = asyncio.ensure_future(writer.write(second))
    for _ in range(3):
        await asyncio.sleep(0)
    assert waiting.cancel(), "the first batch was written before the second could wait for it"
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await writer.commit()
    stored = await driver.get_content("/uploads/u14/data")
    assert hashlib.sha256(stored).digest() == hashlib.sha256(first + second).digest()
    await driver.delete("/uploads/u14")


async def test_filesystem_writers_and_deletes_side_by_side_never_fail(
    filesystem_backend: Backend,
) -> None:
    # Uploads open writers in fresh directories under /uploads while finished ones delete theirs
    # and prune the emptied parents; the parent comes and goes between mkdir's own steps.
    # Bounded in count and time; the race showed about once in 3,000 openings.
    driver = filesystem_backend.driver()
    deadline = time.monotonic() + 15
    failures: list[str] = []
    opened = 0

    async def churn() -> None:
        nonlocal opened
        for _ in range(2500):
            if time.monotonic() > deadline:
                return
            path = f"/uploads/{uuid.uuid4()}/data"
            try:
                writer = await driver.writer(path)
                await writer.cancel()
            except StorageError as exc:
                failures.append(str(exc))
            opened += 1

    await asyncio.gather(*(churn() for _ in range(8)))
    assert not failures, f"{len(failures)} of {opened} openings failed: {failures[:3]}"
    assert opened >= 2000


async def test_finished_writer_refuses_more(driver: StorageDriver) -> None:
    writer = await driver.writer("/data")
    await writer.write(b"x")
    await writer.commit()
    with pytest.raises(StorageError):
        await writer.write(b"y")
    with pytest.raises(StorageError):
        await writer.commit()
    await writer.close()
    await writer.cancel()
    assert await driver.get_content("/data") == b"x"
    await driver.delete("/data")


# Directories


async def test_list_direct_children_sorted(driver: StorageDriver) -> None:
    for path in ("/a/x", "/a/b/d/e", "/a/b/c", "/a/Z", "/a/b-1", "/z"):
        await driver.put_content(path, path.encode())
    assert await driver.list("/a") == ["/a/Z", "/a/b", "/a/b-1", "/a/x"]
    assert await driver.list("/a/b") == ["/a/b/c", "/a/b/d"]
    assert await driver.list("/") == ["/a", "/z"]
    with pytest.raises(PathNotFoundError):
        await driver.list("/a/x")
    info = await driver.stat("/a/b")
    assert (info.path, info.is_dir) == ("/a/b", True)
    assert (await driver.stat("/")).is_dir
    await driver.delete("/a")
    await driver.delete("/z")
    assert await driver.list("/") == []


async def test_delete_objects_deletes_each_skips_what_is_gone_and_prunes(
    driver: StorageDriver,
) -> None:
    # More than one request's worth on S3 (DeleteObjects takes 1 000 keys).
    doomed = [f"/d/{i:02x}/{i:04d}/data" for i in range(1_005)]
    await asyncio.gather(*(driver.put_content(path, b"x") for path in doomed))
    await driver.put_content("/d/00/kept/data", b"kept")
    await driver.put_content("/d/ff/whole/data", b"a directory is not an object")
    await driver.delete_objects([*doomed, "/d/never/was", "/d/ff/whole"])
    walked = sorted([info.path async for info in driver.walk("/d")])
    assert walked == ["/d/00/kept/data", "/d/ff/whole/data"]
    # The directories they emptied are gone.
    assert await driver.list("/d") == ["/d/00", "/d/ff"]
    assert await driver.list("/d/00") == ["/d/00/kept"]
    await driver.delete_objects([])
    await driver.delete("/d")


async def test_walk(driver: StorageDriver) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    files = {"/w/one": 1, "/w/sub/two": 2, "/w/sub/deeper/three": 3, "/other/four": 4}
    for path, size in files.items():
        await driver.put_content(path, payload(size))
    walked = {info.path: info async for info in driver.walk("/w")}
    assert {path: info.size for path, info in walked.items()} == {
        path: size for path, size in files.items() if path.startswith("/w/")
    }
    assert all(not info.is_dir and info.modified > before for info in walked.values())
    everything: list[FileInfo] = [info async for info in driver.walk("/")]
    assert sorted(info.path for info in everything) == sorted(files)
    await driver.delete("/w")
    await driver.delete("/other")


async def test_move(driver: StorageDriver) -> None:
    await driver.put_content("/from/dir/object", b"payload")
    await driver.move("/from/dir/object", "/to/new/place/object")
    assert await driver.get_content("/to/new/place/object") == b"payload"
    with pytest.raises(PathNotFoundError):
        await driver.stat("/from/dir/object")
    # The emptied source directories are gone too.
    assert await driver.list("/") == ["/to"]
    await driver.put_content("/other", b"replacement")
    await driver.move("/other", "/to/new/place/object")
    assert await driver.get_content("/to/new/place/object") == b"replacement"
    await driver.move("/to/new/place/object", "/to/new/place/object")
    assert await driver.get_content("/to/new/place/object") == b"replacement"
    await driver.delete("/to")


async def test_move_large_object(driver: StorageDriver) -> None:
    content = payload(S3_PART_SIZE + MiB)
    await driver.put_content("/a/large", content)
    await driver.move("/a/large", "/b/large")
    assert await driver.get_content("/b/large") == content
    await driver.delete("/b")


async def test_delete_recursive(driver: StorageDriver) -> None:
    for path in ("/d/a", "/d/sub/b", "/d/sub/deep/c", "/dx/keep", "/d-keep"):
        await driver.put_content(path, b"x")
    writer = await driver.writer("/d/sub/upload")
    await writer.write(b"pending")
    await writer.close()
    await driver.delete("/d")
    for gone in ("/d", "/d/a", "/d/sub/deep/c"):
        with pytest.raises(PathNotFoundError):
            await driver.stat(gone)
    with pytest.raises(PathNotFoundError):
        await driver.writer("/d/sub/upload", append=True)
    # Neighbours that merely share the name's prefix stay.
    assert await driver.list("/") == ["/d-keep", "/dx"]
    await driver.delete("/dx/keep")
    assert await driver.list("/") == ["/d-keep"]
    await driver.delete("/d-keep")


async def test_delete_root_is_refused(driver: StorageDriver) -> None:
    with pytest.raises(InvalidPathError):
        await driver.delete("/")


_BAD_PATHS = ["../x", "x", "", "//", "/a/", "/a//b", "/a/../b", "/a/./b", "/a b", "/a!b", "/a/é"]


def _operations(path: str) -> list[Callable[[StorageDriver], Awaitable[Any]]]:
    async def read(driver: StorageDriver) -> None:
        await read_all(driver, path)

    async def walk(driver: StorageDriver) -> None:
        [info async for info in driver.walk(path)]

    return [
        lambda driver: driver.get_content(path),
        lambda driver: driver.put_content(path, b"x"),
        lambda driver: driver.stat(path),
        lambda driver: driver.list(path),
        lambda driver: driver.delete(path),
        lambda driver: driver.writer(path),
        lambda driver: driver.move(path, "/ok"),
        lambda driver: driver.move("/ok", path),
        lambda driver: driver.redirect_url(path),
        lambda driver: driver.open_file(path),
        read,
        walk,
    ]


@pytest.mark.parametrize("path", _BAD_PATHS)
async def test_invalid_paths_are_rejected(driver: StorageDriver, path: str) -> None:
    await driver.put_content("/ok", b"x")
    for operation in _operations(path):
        with pytest.raises(InvalidPathError):
            await operation(driver)
    await driver.delete("/ok")


async def test_redirect_url(driver: StorageDriver) -> None:
    await driver.put_content("/object", b"x")
    # Neither the filesystem nor S3 without `redirect` hands out URLs.
    assert await driver.redirect_url("/object") is None
    await driver.delete("/object")


async def test_open_file_gives_the_bytes_where_the_driver_keeps_files(
    driver: StorageDriver,
) -> None:
    await driver.put_content("/object", b"file bytes")
    file = await driver.open_file("/object")
    if driver.name == "s3":
        assert file is None
    else:
        assert file is not None
        with file:
            assert os.pread(file.fileno(), 100, 0) == b"file bytes"
        with pytest.raises(PathNotFoundError):
            await driver.open_file("/missing")
    await driver.delete("/object")


async def test_large_object_streams_in_bounded_memory(driver: StorageDriver) -> None:
    total = 256 * MiB
    block = os.urandom(MiB)
    written = hashlib.sha256()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        writer = await driver.writer("/large")
        for index in range(total // MiB):
            chunk = index.to_bytes(8, "big") + block[8:]
            written.update(chunk)
            await writer.write(chunk)
        await writer.commit()
        read = hashlib.sha256()
        size = 0
        async for chunk in driver.reader("/large"):
            read.update(chunk)
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    assert read.digest() == written.digest()
    # S3 holds at most two parts, the filesystem one buffer; the object never sits in memory.
    assert peak < 4 * S3_PART_SIZE, f"peak Python allocation {peak / MiB:.1f} MiB"
    # The process's high-water mark covers allocations outside Python's allocator too.
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert rss_growth < total // 4, f"peak RSS grew by {rss_growth / MiB:.1f} MiB"
    await driver.delete("/large")


# Driver-specific behaviour and the factory


async def test_s3_redirect_url_serves_the_object(s3_backend: Backend) -> None:
    settings = s3_backend.settings.model_copy(
        update={"s3": s3_backend.settings.s3.model_copy(update={"redirect": True})}
    )
    driver = create_driver(settings, s3_backend.data_dir)
    await driver.put_content("/blob", b"straight from S3")
    url = await driver.redirect_url("/blob")
    assert url is not None
    assert await driver.redirect_url("/blob", "DELETE") is None
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"straight from S3")
    finally:
        connection.close()
    await driver.delete("/blob")


async def test_s3_creates_a_missing_bucket(s3_endpoint: str, s3_admin: S3Client) -> None:
    bucket = f"berth-new-{uuid.uuid4().hex[:12]}"
    settings = s3_settings(s3_endpoint, bucket, create_bucket=True)
    driver = create_driver(settings, Path("unused"))
    try:
        await driver.put_content("/object", b"x")
        assert await create_driver(settings, Path("unused")).get_content("/object") == b"x"
        await driver.delete("/object")
        assert empty_bucket(s3_admin, bucket) == []
    finally:
        empty_bucket(s3_admin, bucket)
        s3_admin.delete_bucket(Bucket=bucket)


async def test_s3_session_lost_before_close_resumes_from_last_close(s3_backend: Backend) -> None:
    first = payload(S3_PART_SIZE - 10)
    writer = await s3_backend.driver().writer("/data")
    await writer.write(first)
    await writer.close()
    # A replica that dies mid-upload: it uploads a part but never closes.
    lost = await s3_backend.driver().writer("/data", append=True)
    await lost.write(payload(2 * S3_PART_SIZE))
    writer = await s3_backend.driver().writer("/data", append=True)
    assert writer.size == len(first)
    await writer.write(b"tail")
    await writer.commit()
    driver = s3_backend.driver()
    assert await driver.get_content("/data") == first + b"tail"
    await driver.delete("/data")


def test_create_driver_picks_by_name(tmp_path: Path) -> None:
    driver = create_driver(StorageSettings(), tmp_path)
    assert isinstance(driver, CheckedDriver)
    assert isinstance(driver.driver, FilesystemDriver)
    assert driver.driver.root == tmp_path / "storage"
    assert driver.name == "filesystem"
    unknown = StorageSettings.model_construct(driver="nope")
    with pytest.raises(ValueError, match="unknown storage driver 'nope'"):
        create_driver(unknown, tmp_path)
