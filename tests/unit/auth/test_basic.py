"""Reading HTTP Basic credentials from an Authorization header."""

from __future__ import annotations

import base64

import pytest

from registry.auth.basic import parse_basic


def basic(credentials: bytes, scheme: str = "Basic") -> str:
    return f"{scheme} {base64.b64encode(credentials).decode()}"


def test_name_and_password() -> None:
    assert parse_basic(basic(b"alice:s3cret")) == ("alice", "s3cret")


def test_the_password_may_hold_colons_the_name_may_not() -> None:
    assert parse_basic(basic(b"alice:a:b:c")) == ("alice", "a:b:c")


def test_empty_parts_are_passed_on_for_the_login_to_refuse() -> None:
    assert parse_basic(basic(b":")) == ("", "")
    assert parse_basic(basic(b"alice:")) == ("alice", "")


def test_the_scheme_is_case_insensitive_and_the_value_may_be_padded() -> None:
    assert parse_basic(basic(b"alice:pw", scheme="bAsIc")) == ("alice", "pw")
    assert parse_basic("Basic  " + base64.b64encode(b"alice:pw").decode() + " ") == (
        "alice",
        "pw",
    )


def test_utf8_credentials() -> None:
    assert parse_basic(basic("jürgen:pässwort".encode())) == ("jürgen", "pässwort")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        basic(b"alice:pw", scheme="Bearer"),
        "Basic not*base64",
        "Basic " + base64.b64encode(b"alice:pw").decode().rstrip("="),
        basic(b"no-colon"),
        basic(b"\xff\xfe:pw"),
        basic(b"alice\x00:pw"),
        basic(b"alice:p\x00w"),
    ],
)
def test_anything_else_is_no_credentials(header: str | None) -> None:
    assert parse_basic(header) is None
