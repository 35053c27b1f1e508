"""The audit trail. Writes are buffered and flushed in batches so pulls, which are audited
too, never wait on an INSERT; the buffer is flushed at least every second and on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from registry.db import artifacts, repositories
from registry.db.pool import Pool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    operation: str
    resource_type: str
    resource: str
    username: str
    project_id: int | None = None


class AuditTrail:
    def __init__(self, db: Pool, interval_seconds: float = 1.0, max_pending: int = 10_000) -> None:
        self._db = db
        self._interval = interval_seconds
        self._max_pending = max_pending
        self._pending: list[AuditEvent] = []
        self._pulled_artifacts: set[int] = set()
        self._pulled_tags: set[int] = set()
        self._pulls_per_repository: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def record(self, event: AuditEvent) -> None:
        if len(self._pending) >= self._max_pending:
            # Better to lose audit lines under a flood than to grow without bound.
            log.warning("audit buffer full; dropping an event")
            return
        self._pending.append(event)

    def record_pull(self, artifact_id: int, tag_id: int | None, repository_id: int) -> None:
        """Pull times and counts are kept the same way: batched, never on the request path."""
        self._pulled_artifacts.add(artifact_id)
        if tag_id is not None:
            self._pulled_tags.add(tag_id)
        self._pulls_per_repository[repository_id] = (
            self._pulls_per_repository.get(repository_id, 0) + 1
        )

    async def _flush_pulls(self) -> None:
        artifact_ids, self._pulled_artifacts = self._pulled_artifacts, set()
        tag_ids, self._pulled_tags = self._pulled_tags, set()
        counts, self._pulls_per_repository = self._pulls_per_repository, {}
        if not artifact_ids:
            return
        try:
            await artifacts.record_pulls(self._db, sorted(artifact_ids), sorted(tag_ids))
            await repositories.add_pulls(self._db, counts)
        except Exception:
            log.exception("recording pull times failed")

    async def flush(self) -> None:
        await self._flush_pulls()
        events, self._pending = self._pending, []
        if not events:
            return
        try:
            await self._db.executemany(
                """
                INSERT INTO audit_logs (project_id, operation, resource_type, resource, username)
                VALUES ($1, $2, $3, $4, $5)
                """,
                [
                    (e.project_id, e.operation, e.resource_type, e.resource, e.username)
                    for e in events
                ],
            )
        except Exception:
            log.exception("writing %d audit events failed", len(events))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


async def purge_audit_logs(
    db: Pool, retention_hours: int, operations: list[str] | None, dry_run: bool
) -> int:
    """Delete audit records older than ``retention_hours`` (only of ``operations`` when given);
    return how many were (or, on a dry run, would be) deleted."""
    condition = (
        "op_time < now() - make_interval(hours => $1) "
        "AND ($2::text[] IS NULL OR operation = ANY($2::text[]))"
    )
    if dry_run:
        counted: int = await db.fetchval(
            f"SELECT count(*) FROM audit_logs WHERE {condition}",  # noqa: S608 — constant SQL
            retention_hours,
            operations,
        )
        return counted
    status: str = await db.execute(
        f"DELETE FROM audit_logs WHERE {condition}",  # noqa: S608 — constant SQL
        retention_hours,
        operations,
    )
    return int(status.split()[-1])
