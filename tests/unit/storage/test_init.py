"""Choosing the storage driver the settings name (``registry/storage/__init__.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.storage import CheckedDriver, FilesystemDriver, create_driver
from registry.storage.s3 import S3Driver
from registry.storage.settings import (
    FilesystemStorageSettings,
    S3StorageSettings,
    StorageSettings,
)


def test_the_filesystem_driver_defaults_to_the_data_directory(tmp_path: Path) -> None:
    driver = create_driver(StorageSettings(), tmp_path)
    assert isinstance(driver, CheckedDriver)
    assert isinstance(driver.driver, FilesystemDriver)
    assert driver.driver.root == tmp_path / "storage"


def test_a_configured_root_wins(tmp_path: Path) -> None:
    settings = StorageSettings(filesystem=FilesystemStorageSettings(root=tmp_path / "blobs"))
    driver = create_driver(settings, tmp_path / "data")
    assert isinstance(driver, CheckedDriver)
    assert isinstance(driver.driver, FilesystemDriver)
    assert driver.driver.root == tmp_path / "blobs"


def test_the_s3_driver_is_served_checked_and_needs_a_bucket(tmp_path: Path) -> None:
    settings = StorageSettings(
        driver="s3", s3=S3StorageSettings(bucket="berth", endpoint_url="http://127.0.0.1:1")
    )
    driver = create_driver(settings, tmp_path)
    assert isinstance(driver, CheckedDriver)
    assert isinstance(driver.driver, S3Driver)
    assert driver.name == "s3"
    with pytest.raises(ValueError, match="needs a bucket"):
        create_driver(StorageSettings(driver="s3"), tmp_path)


def test_an_unknown_driver_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    # The settings model refuses one too; the factory must not fall back to another driver.
    settings = StorageSettings.model_construct(driver="gcs")
    with pytest.raises(ValueError, match=r"unknown storage driver 'gcs' \(known: filesystem, s3\)"):
        create_driver(settings, tmp_path)
