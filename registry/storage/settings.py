"""The storage drivers' settings: one typed model per driver, read by ``registry.config`` as
the ``storage`` section (``BERTH_STORAGE__DRIVER``, ``BERTH_STORAGE__S3__BUCKET`` …). They sit
with the drivers so that the drivers need nothing from the rest of Berth."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

__all__ = ["FilesystemStorageSettings", "S3StorageSettings", "StorageSettings"]


class FilesystemStorageSettings(BaseModel):
    root: Path | None = Field(
        default=None, description="Directory for blobs and uploads; default <data_dir>/storage"
    )


class S3StorageSettings(BaseModel):
    bucket: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    path_style: bool = False
    prefix: str = ""
    # S3 needs parts of at least 5 MiB (except the last); bigger parts mean fewer requests.
    part_size: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    redirect: bool = Field(
        default=False, description="Answer blob GETs with a presigned URL instead of streaming"
    )
    create_bucket: bool = Field(default=False, description="Create the bucket when missing")


class StorageSettings(BaseModel):
    driver: Literal["filesystem", "s3"] = "filesystem"
    filesystem: FilesystemStorageSettings = FilesystemStorageSettings()
    s3: S3StorageSettings = S3StorageSettings()
