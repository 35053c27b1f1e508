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


class BlobFills:
    def __init__(self) -> None:
        self._filling: dict[tuple[str, str], asyncio.Event] = {}

    def begin(self, repository: str, digest: str) -> asyncio.Event | None:
        """Claim the fill of the blob; None when a stream fills it already."""
        key = (repository, digest)
        if key in self._filling:
            return None
        done = self._filling[key] = asyncio.Event()
        return done

    def end(self, repository: str, digest: str, claim: asyncio.Event) -> None:
        if self._filling.get((repository, digest)) is claim:
            del self._filling[(repository, digest)]
        claim.set()

    def filling(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self._filling

    async def wait(self, repository: str, digest: str) -> None:
        """Until the blob's fill, if one runs, ends (bound it with ``asyncio.timeout``)."""
        claim = self._filling.get((repository, digest))
        if claim is not None:
            await claim.wait()
