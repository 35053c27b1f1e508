"""Key ids and the JWKS document that lets anything verify Berth's tokens."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from registry.token.keys import KeyRing, key_id


@pytest.fixture(scope="module")
def private_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


def test_a_key_id_is_derived_from_the_key_alone(
    private_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    first, second = private_keys
    kid = key_id(first.public_key())
    assert kid == key_id(first.public_key())
    assert kid != key_id(second.public_key())
    # 20 bytes of SHA-256 in unpadded base32: 32 characters.
    assert len(kid) == 32
    assert len(base64.b32decode(kid)) == 20


def test_the_jwks_lists_every_verification_key(
    private_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    second = private_keys[1]
    public = {key_id(k.public_key()): k.public_key() for k in private_keys}
    ring = KeyRing(key_id(second.public_key()), second, public)
    keys = ring.jwks()["keys"]
    assert [k["kid"] for k in keys] == list(public)
    for entry in keys:
        assert {entry["kty"], entry["use"], entry["alg"]} == {"RSA", "sig", "RS256"}
        assert entry["e"] == "AQAB"  # 65537, big-endian, no padding
        assert "=" not in entry["n"]
        numbers = public[entry["kid"]].public_numbers()
        n = int.from_bytes(base64.urlsafe_b64decode(entry["n"] + "=" * (-len(entry["n"]) % 4)))
        assert n == numbers.n


def test_a_token_verifies_with_the_published_key_alone(
    private_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
) -> None:
    private = private_keys[0]
    kid = key_id(private.public_key())
    ring = KeyRing(kid, private, {kid: private.public_key()})
    token = jwt.encode(
        {"sub": "alice", "exp": int(time.time()) + 60},
        private,
        algorithm="RS256",
        headers={"kid": kid},
    )
    published = jwt.PyJWK(ring.jwks()["keys"][0])
    assert jwt.decode(token, published.key, algorithms=["RS256"])["sub"] == "alice"
