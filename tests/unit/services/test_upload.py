"""Chunked uploads, the rules decided from the request alone: upload ids, Content-Range, and
whether a chunk continues exactly where the upload stands."""

from __future__ import annotations

import uuid

import pytest

from registry.services.errors import BlobUploadInvalid, BlobUploadUnknown, RangeInvalid
from registry.services.upload import (
    UploadState,
    _expected_length,
    parse_content_range,
    parse_upload_id,
)

UPLOAD = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")


def test_an_upload_id() -> None:
    assert parse_upload_id(str(UPLOAD)) == UPLOAD


@pytest.mark.parametrize("text", ["", "not-a-uuid", "0f8fad5b"])
def test_an_id_that_is_no_uuid_is_an_unknown_upload(text: str) -> None:
    with pytest.raises(BlobUploadUnknown) as unknown:
        parse_upload_id(text)
    assert unknown.value.detail == {"uuid": text}


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("0-99", (0, 99)),
        ("bytes 100-199", (100, 199)),
        ("bytes=100-199/1000", (100, 199)),
        ("bytes100-199/*", (100, 199)),
        (" 5-5 ", (5, 5)),
    ],
)
def test_content_ranges(header: str, span: tuple[int, int]) -> None:
    assert parse_content_range(header) == span


@pytest.mark.parametrize("header", ["", "0-", "-5", "10-9", "bytes 0-9/x", "0-9\n0-9", "a-b"])
def test_malformed_content_ranges(header: str) -> None:
    with pytest.raises(BlobUploadInvalid, match="malformed Content-Range"):
        parse_content_range(header)


STANDING_AT_100 = UploadState(UPLOAD, "team/app", 100, 1)


def test_without_a_range_the_length_is_what_the_client_announced() -> None:
    assert _expected_length(STANDING_AT_100, None, 50) == 50
    assert _expected_length(STANDING_AT_100, None, None) is None


def test_a_range_that_continues_the_upload_sets_the_length() -> None:
    assert _expected_length(STANDING_AT_100, "100-149", None) == 50
    assert _expected_length(STANDING_AT_100, "100-149", 50) == 50


@pytest.mark.parametrize("header", ["0-99", "99-149", "101-149"])
def test_a_range_anywhere_else_tells_where_the_upload_stands(header: str) -> None:
    with pytest.raises(RangeInvalid) as refused:
        _expected_length(STANDING_AT_100, header, None)
    assert refused.value.current_size == 100


def test_a_length_that_contradicts_the_range_is_refused() -> None:
    with pytest.raises(RangeInvalid, match="Content-Length does not match Content-Range"):
        _expected_length(STANDING_AT_100, "100-149", 49)
