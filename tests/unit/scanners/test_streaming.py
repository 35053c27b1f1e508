"""A layer is read as a stream: a large one passes through the inventory reader without its
bytes being held (peak memory grows by far less than the layer's size)."""

from __future__ import annotations

import io
import os
import resource
import tarfile
import threading

from registry.scanners.inventory import Filesystem, inventory_of
from tests.fixtures.images import DPKG_STATUS

LAYER_BYTES = 512 * 1024 * 1024


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, made as they are read."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        count = min(len(target), self._left)
        target[:count] = bytes(count)
        self._left -= count
        return count


def _write_layer(fd: int) -> None:
    with os.fdopen(fd, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
        big = tarfile.TarInfo("opt/data/blob.bin")
        big.size = LAYER_BYTES
        tar.addfile(big, _Zeros(LAYER_BYTES))
        status = DPKG_STATUS.encode()
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = len(status)
        tar.addfile(info, io.BytesIO(status))


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_half_gigabyte_layer_streams_through_in_flat_memory() -> None:
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=_write_layer, args=(write_fd,))
    before = _peak_rss_bytes()
    writer.start()
    fs = Filesystem()
    with os.fdopen(read_fd, "rb") as pipe:
        fs.apply_layer(pipe)
    writer.join()
    grown = _peak_rss_bytes() - before
    assert grown < 64 * 1024 * 1024, f"peak memory grew by {grown} bytes"
    assert {p.name for p in inventory_of(fs).packages} == {"libssl3", "zlib1g", "bash"}
