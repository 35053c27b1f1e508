"""HTTP Basic authentication against the local user database.

Verifying scrypt costs tens of milliseconds, which a registry cannot pay on every blob request,
so a successful check is remembered for a short while, keyed by a hash of the credentials and
the stored hash (a password change invalidates it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from registry.auth.password import verify_password
from registry.db import users
from registry.db.pool import Pool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``user_id`` is None for anonymous callers."""

    username: str | None
    user_id: int | None = None
    sysadmin: bool = False

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Principal(username=None)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an ``Authorization: Basic …`` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class BasicAuthenticator:
    def __init__(self, db: Pool, cache_seconds: float = 60.0, cache_size: int = 1024) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._verified: OrderedDict[bytes, float] = OrderedDict()

    async def authenticate(self, username: str, password: str) -> Principal | None:
        row = await users.get_by_username(self._db, username)
        if row is None:
            # Spend the same time as a real check so response timing does not reveal names.
            await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
            return None
        key = hashlib.sha256(f"{username}\0{password}\0{row['password_hash']}".encode()).digest()
        now = time.monotonic()
        seen = self._verified.get(key)
        if seen is None or now - seen > self._cache_seconds:
            if not await asyncio.to_thread(verify_password, password, row["password_hash"]):
                return None
            self._verified[key] = now
            self._verified.move_to_end(key)
            while len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
        return Principal(username=row["username"], user_id=row["id"], sysadmin=row["sysadmin"])


# A valid hash of a random password, checked when the user does not exist.
_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)
