"""Harbor's read-only mode: while the configuration's ``read_only`` is on, nothing that
changes content (pushes, deletes, garbage collection, management changes) is done; reads go
on, and the configuration itself may be changed (to turn the mode off)."""

from __future__ import annotations

from registry.services.context import Backends
from registry.services.errors import SystemReadOnly

MESSAGE = "The system is in read only mode. Any modification is prohibited."


async def is_read_only(b: Backends) -> bool:
    return bool((await b.config.get())["read_only"])


async def refuse_if_read_only(b: Backends) -> None:
    if await is_read_only(b):
        raise SystemReadOnly(MESSAGE)
