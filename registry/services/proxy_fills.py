"""Blobs of proxy-cache projects being written into the store from a client's stream.

A cold pull through a proxy project streams each blob from upstream to the client; the same
stream is written into the store as it passes (a tee), so the blob is fetched from upstream
once. The background copy that caches the whole artifact announces its writes here too, and
each side waits for the other's write of a blob instead of fetching it a second time. Per
process: another process's write is not seen, and both then fetch the blob
(content-addressed, so either write wins).
"""

from __future__ import annotations

import asyncio


class Fill:
    """One claimed write of a blob, ended once by whoever holds it (ending it again is a
    no-op)."""

    def __init__(self, fills: dict[tuple[str, str], Fill], key: tuple[str, str]) -> None:
        self._fills = fills
        self._key = key
        self.ended = asyncio.Event()

    def end(self) -> None:
        if self._fills.get(self._key) is self:
            del self._fills[self._key]
        self.ended.set()


class BlobFills:
    def __init__(self) -> None:
        self._filling: dict[tuple[str, str], Fill] = {}

    def begin(self, repository: str, digest: str) -> Fill | None:
        """Claim the write of the blob; None when another write of it runs."""
        key = (repository, digest)
        if key in self._filling:
            return None
        fill = self._filling[key] = Fill(self._filling, key)
        return fill

    def filling(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self._filling

    async def wait(self, repository: str, digest: str) -> None:
        """Until the blob's write, if one runs, ends (bound it with ``asyncio.timeout``)."""
        fill = self._filling.get((repository, digest))
        if fill is not None:
            await fill.ended.wait()
