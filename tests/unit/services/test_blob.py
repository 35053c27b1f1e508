"""A digest a client names, as the blob service reads it."""

from __future__ import annotations

import pytest

from registry.oci.digest import Digest
from registry.services.blob import parse_digest
from registry.services.errors import DigestInvalid

HEX = "a" * 64


def test_a_digest() -> None:
    assert parse_digest(f"sha256:{HEX}") == Digest("sha256", HEX)


@pytest.mark.parametrize("text", ["sha256:abc", f"md5:{HEX}", HEX, f"sha256:{HEX}\n"])
def test_a_malformed_digest_is_refused_and_named(text: str) -> None:
    with pytest.raises(DigestInvalid, match="invalid digest") as refused:
        parse_digest(text)
    assert refused.value.detail == {"digest": text}
