"""In-process hash state of uploads in progress.

Hash objects cannot be shared between processes, so each process remembers the hasher of the
uploads it served last. When the next chunk of an upload lands here and the remembered hasher
stands at the upload's current size, hashing simply continues; otherwise the digest is
computed from the stored bytes when the upload completes.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from registry.oci.digest import StreamHasher


class HasherCache:
    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._hashers: OrderedDict[uuid.UUID, StreamHasher] = OrderedDict()

    def resume(self, upload_id: uuid.UUID, size: int) -> StreamHasher | None:
        """The hasher for ``upload_id`` if it has seen exactly ``size`` bytes, else None."""
        hasher = self._hashers.pop(upload_id, None)
        return hasher if hasher is not None and hasher.size == size else None

    def keep(self, upload_id: uuid.UUID, hasher: StreamHasher) -> None:
        self._hashers[upload_id] = hasher
        while len(self._hashers) > self._capacity:
            self._hashers.popitem(last=False)

    def forget(self, upload_id: uuid.UUID) -> None:
        self._hashers.pop(upload_id, None)
