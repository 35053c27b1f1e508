"""The path rule every driver relies on, and what storage errors say."""

from __future__ import annotations

import pytest

from registry.storage.base import InvalidPathError, PathNotFoundError, StorageError, check_path


@pytest.mark.parametrize(
    "path", ["/", "/blobs", "/blobs/sha256/ab/data", "/a.b_c-D/9", "/...x", "/x..y"]
)
def test_absolute_paths_of_safe_segments_are_accepted(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "absolute"),
        ("blobs/x", "absolute"),
        ("/blobs/", "do not end with /"),
        ("//", "do not end with /"),
        ("//blobs", "bad segment ''"),
        ("/blobs//x", "bad segment ''"),
        ("/blobs/./x", r"bad segment '\.'"),
        ("/blobs/../etc", r"bad segment '\.\.'"),
        ("/blobs/a b", "bad segment 'a b'"),
        ("/uploads/x/data!partial", "bad segment 'data!partial'"),
        ("/blobs/\u00e9", "bad segment"),
        ("/blobs/x\n", "bad segment"),
        ("/blobs\\x", "bad segment"),
    ],
)
def test_anything_else_is_refused_before_a_driver_sees_it(path: str, reason: str) -> None:
    with pytest.raises(InvalidPathError, match=reason) as refused:
        check_path(path, "filesystem")
    assert (refused.value.path, refused.value.driver) == (path, "filesystem")


def test_a_storage_error_names_driver_path_and_detail() -> None:
    assert str(StorageError("/blobs/x", "s3", "AccessDenied")) == "s3: /blobs/x: AccessDenied"
    assert str(PathNotFoundError("/blobs/x", "filesystem")) == "filesystem: /blobs/x"
    assert isinstance(PathNotFoundError("/x", "s3"), StorageError)
