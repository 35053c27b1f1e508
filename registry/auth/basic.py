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
    """Checks Basic credentials; remembers recent successes.

    Within ``fresh_seconds`` a remembered caller is trusted without a query (so a password
    change or a deleted account takes that long to bite); after that the account is re-read,
    and scrypt runs again only if the stored hash changed or ``verify_seconds`` passed.
    """

    def __init__(
        self,
        db: Pool,
        *,
        fresh_seconds: float = 10.0,
        verify_seconds: float = 300.0,
        capacity: int = 1024,
    ) -> None:
        self._db = db
        self._fresh_seconds = fresh_seconds
        self._verify_seconds = verify_seconds
        self._capacity = capacity
        self._seen: OrderedDict[bytes, _Seen] = OrderedDict()

    async def authenticate(self, username: str, password: str) -> Principal | None:
        key = hashlib.sha256(f"{username}\0{password}".encode()).digest()
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen.checked < self._fresh_seconds:
            return seen.principal
        row = await users.get_by_username(self._db, username)
        if row is None:
            self._seen.pop(key, None)
            # Spend the same time as a real check so response timing does not reveal names.
            await asyncio.to_thread(verify_password, password, _DUMMY_HASH)
            return None
        stored_hash: str | None = row["password_hash"]
        reusable = (
            seen is not None
            and seen.password_hash == stored_hash
            and now - seen.verified < self._verify_seconds
        )
        if not reusable and not await asyncio.to_thread(verify_password, password, stored_hash):
            self._seen.pop(key, None)
            return None
        principal = Principal(username=row["username"], user_id=row["id"], sysadmin=row["sysadmin"])
        verified = seen.verified if reusable and seen is not None else now
        self._seen[key] = _Seen(principal, stored_hash, verified, now)
        self._seen.move_to_end(key)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return principal


@dataclass(slots=True)
class _Seen:
    principal: Principal
    password_hash: str | None
    verified: float
    checked: float


# A valid hash of a random password, checked when the user does not exist.
_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)
