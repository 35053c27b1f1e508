"""Project storage quotas: refusing what would not fit, before the bytes are committed; listing
them and changing their limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from registry.auth.principal import Principal
from registry.db import blobs, quotas
from registry.db.pool import Executor, Pool
from registry.query import ListQuery
from registry.services import read_cache
from registry.services.audit import AuditEvent
from registry.services.errors import (
    InvalidRequest,
    NotPermitted,
    QuotaExceeded,
    QuotaUnknown,
)

if TYPE_CHECKING:
    from registry.services.context import Backends


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int) -> str:
    """A byte count as people read it: ``512 B``, ``1.5 GiB`` (quota messages, webhooks,
    pages)."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


async def remaining(db: Executor, project_id: int) -> int | None:
    """Bytes the project may still add; None when unlimited."""
    hard = await quotas.hard_limit(db, project_id)
    if hard < 0:
        return None
    return max(hard - await quotas.usage(db, project_id), 0)


async def check_room(db: Executor, project_id: int, adding: int) -> None:
    """Raise QuotaExceeded (with Harbor's wording) if ``adding`` bytes would not fit."""
    if adding <= 0:
        return
    hard = await quotas.hard_limit(db, project_id)
    if hard < 0:
        return
    used = await quotas.usage(db, project_id)
    if used + adding > hard:
        raise QuotaExceeded(
            f"adding {human_size(adding)} of storage resource, which when updated to current usage "
            f"of {human_size(used)} will exceed the configured upper limit of {human_size(hard)}."
        )


async def lock_project(db: Executor, project_id: int) -> None:
    """Serialize quota decisions of one project until the surrounding transaction ends."""
    await db.execute("SELECT pg_advisory_xact_lock($1, $2)", 0x51554F54, project_id)


async def link_blob_within_quota(db: Pool, project_id: int, blob_id: int, size: int) -> None:
    """Link a blob into the project if its quota has room, deciding one link at a time per
    project so concurrent pushes cannot overshoot together."""
    async with db.acquire() as conn, conn.transaction():
        await lock_project(conn, project_id)
        await check_room(conn, project_id, size)
        await blobs.link_to_project(conn, project_id, blob_id)


async def list_quotas(
    b: Backends, project_id: int | None, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """Every project's quota (for system admins), or one project's."""
    return await quotas.list_quotas(b.db, project_id, query)


async def get_quota(b: Backends, quota_id: int) -> asyncpg.Record:
    row = await quotas.get(b.db, quota_id)
    if row is None:
        raise QuotaUnknown()
    return row


async def set_storage_limit(b: Backends, actor: Principal, quota_id: int, storage: object) -> None:
    """``storage``: -1 (unlimited) or a number of bytes. What is stored already stays, even
    above a lowered limit; only new pushes are refused."""
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")
    if not isinstance(storage, int) or isinstance(storage, bool) or storage < -1:
        raise InvalidRequest("hard.storage is -1 (unlimited) or a number of bytes")
    if not await quotas.set_hard(b.db, quota_id, storage):
        raise QuotaUnknown()
    # Processes remember limits under their read-cache stamps (for the quota warning).
    await read_cache.changed_everywhere(b.redis)
    await b.audit.record(AuditEvent("update", "quota", str(quota_id), actor.name))
