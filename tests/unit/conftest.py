"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from registry.token.keys import KeyRing
from tests.unit.signing import new_key_ring


@pytest.fixture(scope="session")
def keys() -> KeyRing:
    """A token signing key ring (an RSA key is slow to make: one for the whole run)."""
    return new_key_ring()
