"""When an in-process upload hasher may be continued."""

from __future__ import annotations

import uuid

from registry.oci.digest import StreamHasher
from registry.services.hashers import HasherCache


def _fed(data: bytes) -> StreamHasher:
    hasher = StreamHasher()
    hasher.update(data)
    return hasher


def test_the_next_writer_continues_the_hasher() -> None:
    cache, upload = HasherCache(), uuid.uuid4()
    hasher = _fed(b"abc")
    cache.keep(upload, hasher, writer=1)
    assert cache.resume(upload, 3, writer=2) is hasher


def test_a_writer_in_between_means_the_stored_bytes_decide() -> None:
    # Writer 2 (a cut-off request, another replica) may have left bytes this hasher never saw.
    cache, upload = HasherCache(), uuid.uuid4()
    cache.keep(upload, _fed(b"abc"), writer=1)
    assert cache.resume(upload, 3, writer=3) is None


def test_a_hasher_at_another_size_is_dropped() -> None:
    cache, upload = HasherCache(), uuid.uuid4()
    cache.keep(upload, _fed(b"abc"), writer=1)
    assert cache.resume(upload, 4, writer=2) is None
    assert cache.resume(upload, 3, writer=2) is None
