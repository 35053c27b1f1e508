"""In-process hash state of uploads in progress.

Hash objects cannot be shared between processes, so each process remembers the hasher of the
uploads it served last, with the number of the writer (see ``upload_sessions.writes``) that fed
it last. The next chunk of an upload continues that hasher only when it is the very next writer
and the hasher stands at the upload's size: then the hasher has seen every stored byte in one
continuous pass. Otherwise another process, or a request cut off midway, wrote in between, and
the digest is computed from the stored bytes when the upload completes.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from registry.oci.digest import StreamHasher


class HasherCache:
    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._hashers: OrderedDict[uuid.UUID, tuple[StreamHasher, int]] = OrderedDict()

    def resume(self, upload_id: uuid.UUID, size: int, writer: int) -> StreamHasher | None:
        """The hasher for ``upload_id`` if writer ``writer - 1`` fed it last and it has seen
        exactly ``size`` bytes, else None."""
        kept = self._hashers.pop(upload_id, None)
        if kept is None:
            return None
        hasher, fed_by = kept
        return hasher if hasher.size == size and fed_by == writer - 1 else None

    def keep(self, upload_id: uuid.UUID, hasher: StreamHasher, writer: int) -> None:
        self._hashers[upload_id] = (hasher, writer)
        while len(self._hashers) > self._capacity:
            self._hashers.popitem(last=False)

    def forget(self, upload_id: uuid.UUID) -> None:
        self._hashers.pop(upload_id, None)
