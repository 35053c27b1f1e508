"""Token signing key rings for tests."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from registry.token.keys import KeyRing, key_id


def new_key_ring() -> KeyRing:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = key_id(private.public_key())
    return KeyRing(kid, private, {kid: private.public_key()})
