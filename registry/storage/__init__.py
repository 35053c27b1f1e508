"""Byte storage behind the registry: the driver contract, its implementations and the factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from registry.storage.base import (
    FileInfo,
    FileWriter,
    InvalidOffsetError,
    InvalidPathError,
    PathNotFoundError,
    StorageDriver,
    StorageError,
    check_path,
)
from registry.storage.checked import CheckedDriver
from registry.storage.filesystem import FilesystemDriver
from registry.storage.settings import StorageSettings

__all__ = [
    "DRIVERS",
    "CheckedDriver",
    "FileInfo",
    "FileWriter",
    "FilesystemDriver",
    "InvalidOffsetError",
    "InvalidPathError",
    "PathNotFoundError",
    "StorageDriver",
    "StorageError",
    "check_path",
    "create_driver",
]


def _filesystem(settings: StorageSettings, data_dir: Path) -> StorageDriver:
    return FilesystemDriver(settings.filesystem.root or data_dir / "storage")


def _s3(settings: StorageSettings, data_dir: Path) -> StorageDriver:
    # Imported when chosen: boto3 costs each process tens of MiB it needs only for S3.
    from registry.storage.s3 import S3Driver

    return S3Driver(settings.s3)


DRIVERS: dict[str, Callable[[StorageSettings, Path], StorageDriver]] = {
    "filesystem": _filesystem,
    "s3": _s3,
}


def create_driver(settings: StorageSettings, data_dir: Path) -> StorageDriver:
    """Build the driver ``settings.driver`` names, wrapped in :class:`CheckedDriver`."""
    try:
        build = DRIVERS[settings.driver]
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise ValueError(f"unknown storage driver {settings.driver!r} (known: {known})") from None
    return CheckedDriver(build(settings, data_dir))
