"""Backends for the storage driver contract: a temporary directory, and a bucket on a live S3 API.

The S3 API is moto's HTTP server in a subprocess, so the driver talks real HTTP through boto3 just
as it would to AWS or MinIO. Each test gets a fresh directory or bucket, and fails if it leaves
anything behind there once its own cleanup has run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from registry.storage import StorageDriver, create_driver
from registry.storage.settings import FilesystemStorageSettings, S3StorageSettings, StorageSettings

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# The smallest part S3 accepts, so that multipart paths run on modest test data.
S3_PART_SIZE = 5 * 1024 * 1024
_MOTO_START_SECONDS = 30.0


@dataclass
class Backend:
    """One test's storage: settings that any number of driver instances can be opened from."""

    name: str
    settings: StorageSettings
    data_dir: Path

    def driver(self) -> StorageDriver:
        """A new driver instance, sharing nothing in memory with others (like another process)."""
        return create_driver(self.settings, self.data_dir)


def s3_settings(endpoint: str, bucket: str, **overrides: object) -> StorageSettings:
    s3 = S3StorageSettings(
        bucket=bucket,
        endpoint_url=endpoint,
        access_key=SecretStr("test"),
        secret_key=SecretStr("test"),
        path_style=True,
        prefix="berth",
        part_size=S3_PART_SIZE,
    )
    return StorageSettings(driver="s3", s3=s3.model_copy(update=overrides))


def empty_bucket(client: S3Client, bucket: str) -> list[str]:
    """Remove every object and pending multipart upload; return what was there."""
    found: list[str] = []
    for uploads in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in uploads.get("Uploads", []):
            found.append(f"multipart upload of {upload['Key']}")
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for objects in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in objects.get("Contents", []):
            found.append(item["Key"])
            client.delete_object(Bucket=bucket, Key=item["Key"])
    return found


@pytest.fixture
def s3_backend(s3_endpoint: str, s3_admin: S3Client, tmp_path: Path) -> Iterator[Backend]:
    bucket = f"berth-test-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=bucket)
    yield Backend("s3", s3_settings(s3_endpoint, bucket), tmp_path)
    leftovers = empty_bucket(s3_admin, bucket)
    s3_admin.delete_bucket(Bucket=bucket)
    if leftovers:
        pytest.fail(f"test left {len(leftovers)} things in the bucket: {sorted(leftovers)[:20]}")


@pytest.fixture
def filesystem_backend(tmp_path: Path) -> Iterator[Backend]:
    data_dir = tmp_path / "data"
    settings = StorageSettings(driver="filesystem", filesystem=FilesystemStorageSettings())
    yield Backend("filesystem", settings, data_dir)
    root = data_dir / "storage"
    leftovers = sorted(str(entry.relative_to(root)) for entry in root.rglob("*"))
    if leftovers:
        pytest.fail(f"test left {len(leftovers)} entries under the root: {leftovers[:20]}")


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found


@pytest.fixture
def driver(backend: Backend) -> StorageDriver:
    return backend.driver()
