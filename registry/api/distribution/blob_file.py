"""Sending a blob (or a range of it) from an open local file.

When the server offers the ASGI ``http.response.zerocopy`` extension (``berth serve`` does), the
file is handed to it and the kernel copies page cache to socket: no Python buffer, no thread hop
per chunk. Otherwise the file is read in worker threads and streamed as usual.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from typing import IO

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from registry.metrics.instruments import count_bytes

ZEROCOPY = "http.response.zerocopy"
# Reads per worker-thread hop when the server cannot send the file itself.
READ_SIZE = 1024 * 1024


class BlobFileResponse(Response):
    media_type = "application/octet-stream"

    def __init__(
        self,
        file: IO[bytes],
        offset: int,
        count: int,
        *,
        status_code: int,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(status_code=status_code, headers={**headers, "Content-Length": str(count)})
        self._file = file
        self._offset = offset
        self._count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if ZEROCOPY in scope.get("extensions", {}):
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                await send(
                    {
                        "type": ZEROCOPY,
                        "file": self._file.fileno(),
                        "offset": self._offset,
                        "count": self._count,
                        "more_body": False,
                    }
                )
                count_bytes("download", self._count)
            else:
                streamed = StreamingResponse(
                    self._chunks(), status_code=self.status_code, headers=dict(self.headers)
                )
                await streamed(scope, receive, send)
        finally:
            self._file.close()

    async def _chunks(self) -> AsyncIterator[bytes]:
        fd = self._file.fileno()
        position, end = self._offset, self._offset + self._count
        try:
            while position < end:
                chunk = await asyncio.to_thread(
                    os.pread, fd, min(READ_SIZE, end - position), position
                )
                if not chunk:
                    return
                position += len(chunk)
                yield chunk
        finally:
            count_bytes("download", position - self._offset)
