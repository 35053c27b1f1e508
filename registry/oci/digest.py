"""Content digests (``algorithm:hex``) and the streaming hasher that computes them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# The spec's digest grammar, narrowed to the algorithms Berth can verify.
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"(sha256|sha512):([a-f0-9]+)")
DEFAULT_ALGORITHM = "sha256"


class InvalidDigestError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        match = _DIGEST.fullmatch(text)
        if not match or len(match.group(2)) != _HEX_LENGTH[match.group(1)]:
            raise InvalidDigestError(f"invalid digest {text!r}")
        return cls(match.group(1), match.group(2))

    @classmethod
    def of(cls, data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def looks_like_digest(reference: str) -> bool:
    """True when a manifest reference is meant as a digest (it has a colon; tags cannot)."""
    return ":" in reference


class StreamHasher:
    """Hashes bytes as they stream past with every supported algorithm the caller asked for.

    Uploads do not know the expected digest until the final PUT, so sha256 is always kept and
    sha512 is added only when the client asked for it up front (monolithic POST with a digest).
    """

    def __init__(self, algorithms: tuple[str, ...] = (DEFAULT_ALGORITHM,)) -> None:
        self._hashes = {name: hashlib.new(name) for name in algorithms}
        self.size = 0

    def update(self, data: bytes) -> None:
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def has(self, algorithm: str) -> bool:
        return algorithm in self._hashes

    def digest(self, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        return Digest(algorithm, self._hashes[algorithm].hexdigest())
