"""Where blobs and uploads live in a storage driver."""

from __future__ import annotations

import uuid

from registry.oci.digest import Digest
from registry.storage.base import check_path
from registry.storage.layout import blob_path, upload_dir, upload_path

SHA256 = Digest("sha256", "ab" + "0" * 62)
SHA512 = Digest("sha512", "cd" + "1" * 126)
UPLOAD = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_blobs_are_fanned_out_by_algorithm_and_first_two_hex_digits() -> None:
    assert blob_path(SHA256) == f"/blobs/sha256/ab/{SHA256.hex}/data"
    assert blob_path(SHA512) == f"/blobs/sha512/cd/{SHA512.hex}/data"


def test_each_blob_has_a_directory_of_its_own() -> None:
    # Garbage collection deletes a blob by deleting the directory above its data.
    parent = blob_path(SHA256).rsplit("/", 1)[0]
    assert parent == f"/blobs/sha256/ab/{SHA256.hex}"
    assert not blob_path(Digest("sha256", "ab" + "2" * 62)).startswith(parent + "/")


def test_an_upload_keeps_its_data_in_its_own_directory() -> None:
    assert upload_dir(UPLOAD) == "/uploads/12345678-1234-5678-1234-567812345678"
    assert upload_path(UPLOAD) == upload_dir(UPLOAD) + "/data"


def test_every_layout_path_is_one_a_driver_accepts() -> None:
    for path in (blob_path(SHA256), blob_path(SHA512), upload_dir(UPLOAD), upload_path(UPLOAD)):
        assert check_path(path) == path
