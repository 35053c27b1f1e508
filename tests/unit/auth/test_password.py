from __future__ import annotations

import base64

from registry.auth.basic import parse_basic
from registry.auth.password import generate_password, hash_password, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    encoded = hash_password("s3cret!")
    assert encoded.startswith("scrypt$")
    assert "s3cret!" not in encoded
    assert verify_password("s3cret!", encoded)
    assert not verify_password("s3cret", encoded)
    assert hash_password("s3cret!") != encoded  # salted


def test_malformed_hashes_never_verify() -> None:
    for encoded in (None, "", "plain", "scrypt$x$y$z$a$b", "bcrypt$1$2$3$4$5"):
        assert not verify_password("anything", encoded)


def test_generated_passwords_are_long_and_distinct() -> None:
    assert len(generate_password()) >= 20
    assert generate_password() != generate_password()


def test_parse_basic() -> None:
    header = "Basic " + base64.b64encode(b"admin:pa:ss").decode()
    assert parse_basic(header) == ("admin", "pa:ss")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert parse_basic(None) is None
