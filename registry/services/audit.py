"""The audit trail.

``record`` returns once the event is committed, so a response that acknowledges a push, pull
or delete is never followed by a lost audit line (a crash of Berth right after answering keeps
it). Events recorded at the same moment are written together by one writer task, one INSERT
per batch (group commit): a burst of pulls costs one round trip, not one each.

Batches of pulls alone may go to ``pull_db``, a pool whose commits do not wait for PostgreSQL
to flush its log to disk (``synchronous_commit = off``). A pull changes nothing but its audit
line, and waiting for the disk on every pull batch cost a third of the manifest GETs a second
(4 400 against 5 900 at 16 connections). The line is in PostgreSQL before the pull is
answered, so only a crash of the database server itself (or its machine) can lose one, and
then only those of its last 0.6 s (three times ``wal_writer_delay``). Pushes, deletions and
every other record commit to disk before their answer. Pull times and counts are not audit
records; they stay batched off the request path, flushed every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Protocol

from registry.db import artifacts, repositories
from registry.db import audit as audit_db
from registry.db.pool import Pool, PooledConnection

log = logging.getLogger(__name__)

# The job kind that purges old audit records.
PURGE_KIND = "PURGE_AUDIT_LOG"
# The operation of a pull's record, the one that may be committed without waiting for the disk.
PULL = "pull"
# What a pool for pull records sets on its connections.
PULL_DB_SETTINGS = {"synchronous_commit": "off"}
_RELEASE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class AuditEvent:
    operation: str
    resource_type: str
    resource: str
    username: str
    project_id: int | None = None


class AuditGate(Protocol):
    async def admit(self, event: AuditEvent) -> bool:
        """Whether ``event`` is written to the database (it may also be sent elsewhere)."""


class AuditTrail:
    def __init__(
        self, db: Pool, interval_seconds: float = 1.0, *, pull_db: Pool | None = None
    ) -> None:
        self._db = db
        self._pull_db = pull_db
        self._pull_conn: PooledConnection | None = None
        self._pull_lock = asyncio.Lock()
        # What the configuration says about each event (disabled types, forwarding); set by
        # the composition root once the configuration can be read.
        self.gate: AuditGate | None = None
        self._interval = interval_seconds
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._pulled_artifacts: set[int] = set()
        self._pulled_tags: set[int] = set()
        self._pulls_per_repository: dict[int, int] = {}
        self._writer: asyncio.Task[None] | None = None
        self._pull_flusher: asyncio.Task[None] | None = None

    async def record(self, event: AuditEvent) -> None:
        """Write ``event``; raises what the database raised if it could not be written."""
        if self.gate is not None and not await self.gate.admit(event):
            return
        if self._writer is None or self._writer.done():
            await self._write([event])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, done))
        self._wake.set()
        await done

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
        """Write what is buffered now (pull times; audit events are written as they come)."""
        await self._flush_pulls()
        await self._write_pending()

    async def _write(self, events: list[AuditEvent]) -> None:
        rows = [
            (e.project_id, e.operation, e.resource_type, e.resource, e.username) for e in events
        ]
        if self._pull_db is not None and all(e.operation == PULL for e in events):
            await self._write_pulls(self._pull_db, rows)
        else:
            await audit_db.record_many(self._db, rows)

    async def _write_pulls(self, pull_db: Pool, rows: list[audit_db.Row]) -> None:
        # Pull batches come a few thousand a second under load, and taking a connection from
        # the pool and giving it back cost more CPU than the INSERT itself (32 of 86 us): the
        # connection is kept between batches, and given back only when a write on it failed.
        async with self._pull_lock:
            if self._pull_conn is None:
                self._pull_conn = await pull_db.acquire()
            try:
                await audit_db.record_many(self._pull_conn, rows)
            except BaseException:
                await self._release_pull_conn(pull_db)
                raise

    async def _release_pull_conn(self, pull_db: Pool) -> None:
        conn, self._pull_conn = self._pull_conn, None
        if conn is not None:
            # Bounded: a frozen server must not hold the writer (asyncpg closes it instead).
            with contextlib.suppress(Exception):
                await pull_db.release(conn, timeout=_RELEASE_SECONDS)

    async def _write_pending(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self._write([event for event, _ in batch])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_pending()

    async def _flush_pulls_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._flush_pulls()

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever())
        self._pull_flusher = asyncio.create_task(self._flush_pulls_forever())

    async def stop(self) -> None:
        for task in (self._writer, self._pull_flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._writer = self._pull_flusher = None
        try:
            await self.flush()
        finally:
            if self._pull_db is not None:
                async with self._pull_lock:
                    await self._release_pull_conn(self._pull_db)


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
