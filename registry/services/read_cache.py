"""What the pull path reads on every request, kept in each process: a project's id,
visibility and pull-policy metadata, whether it is a proxy cache, its tags (tag → digest),
its manifests by digest and the blobs it holds; for the push path, its storage limit and the
registry's event-based push replication policies (whose changes announce themselves to every
project).

Every process checks, once per request, a stamp kept in Redis for the project (and one for
all projects): a change anywhere writes a new random stamp after its transaction commits, so
the next request on any replica or worker process sees a different stamp and forgets what it
knew about that project. One Redis round trip (MGET of two keys) replaces the database round
trips; no stale answer follows a change that has been acknowledged, which pub/sub cannot
promise (its message may arrive after the next request). Requests that ask for a project's
stamp while a read of it is under way share the next read, which starts when that one ends:
a request only ever takes a stamp read after it asked, and a busy process sends one read per
round trip instead of one per request. Stamps are random rather than
counters so that a Redis that lost its data, and starts over, never matches what was cached
before.

Only what exists is cached, never an absence: a push that creates a tag, a manifest or a
blob link needs no invalidation, only a change or removal does. Blob links are cached per
project, as they are granted: a digest known in one project says nothing in another. When
Redis cannot be asked, requests read the database (and the process forgets all it cached,
since changes made meanwhile could not be announced); an entry also ages out after
:data:`MAX_AGE_SECONDS`, which bounds the damage of a stamp write that failed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from registry.rbac import ProjectRef

log = logging.getLogger(__name__)

ALL_PROJECTS_KEY = "berth:read-cache:all"
MAX_AGE_SECONDS = 60.0
MAX_PROJECTS = 512
# Per project, for each of tags and blobs.
MAX_ENTRIES = 4096
# Manifests are kept in one budget for the process; larger ones are always read.
MANIFEST_BUDGET_BYTES = 16 * 1024 * 1024
MAX_CACHED_MANIFEST_BYTES = 256 * 1024


# What Redis answers: bytes, or str for a client that decodes responses.
Stamp = bytes | str


def project_key(name: str) -> str:
    return f"berth:read-cache:project:{name}"


@dataclass(frozen=True, slots=True)
class CachedManifest:
    digest: str
    media_type: str
    content: bytes
    artifact_id: int
    repository_id: int


@dataclass(slots=True)
class CachedBlob:
    blob_id: int
    size: int
    touched_at: datetime


@dataclass(eq=False)
class ProjectFacts:
    """What one process knows about one project, valid under one stamp."""

    name: str
    stamp: tuple[Stamp, Stamp]
    born: float
    project: ProjectRef | None = None
    # Unknown until read: None is a real answer for both (no metadata, not a proxy).
    metadata: dict[str, str] | None = None
    proxied_by: int | None = None
    proxied_known: bool = False
    # The project's storage limit in bytes (-1: none), read for the quota warning of a push.
    hard_storage: int | None = None
    # Registry-wide, but kept under each project's stamp: the event-based push replication
    # policies (their rows), which every push asks for. A policy change announces
    # changed_everywhere.
    push_policies: tuple[Any, ...] | None = None
    # (repository, tag) → (digest, tag id)
    tags: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    blobs: dict[str, CachedBlob] = field(default_factory=dict)
    # (repository, digest) → manifest, least recently used first; they go with the facts, so
    # a change drops them at once instead of leaving them to age out of a shared store.
    manifests: OrderedDict[tuple[str, str], CachedManifest] = field(default_factory=OrderedDict)
    manifest_bytes: int = 0
    # False once the process dropped these facts: a request still holding them adds nothing.
    live: bool = True

    def remember_tag(self, repository: str, tag: str, digest: str, tag_id: int) -> None:
        if len(self.tags) >= MAX_ENTRIES:
            self.tags.clear()
        self.tags[(repository, tag)] = (digest, tag_id)

    def remember_blob(self, digest: str, blob: CachedBlob) -> None:
        if len(self.blobs) >= MAX_ENTRIES:
            self.blobs.clear()
        self.blobs[digest] = blob


class ReadCache:
    """The per-process store; one per set of backends."""

    def __init__(self) -> None:
        self._projects: OrderedDict[str, ProjectFacts] = OrderedDict()
        # Manifest bytes (plus a per-entry allowance) held by all live facts.
        self._manifest_bytes = 0
        self._stamps = _StampReads()

    async def facts(self, redis: Redis, name: str) -> ProjectFacts | None:
        """The facts of project ``name`` as of now, empty when something changed since they
        were read; None when Redis cannot vouch for them (read the database then)."""
        try:
            stamp = await self._stamps.read(redis, name)
        except (RedisError, OSError, TimeoutError) as exc:
            if self._projects:
                log.warning("read cache off while Redis is unreachable: %r", exc)
            self.forget_all()
            return None
        now = time.monotonic()
        facts = self._projects.get(name)
        if facts is None or facts.stamp != stamp or now - facts.born > MAX_AGE_SECONDS:
            if facts is not None:
                self._release(facts)
            facts = ProjectFacts(name, stamp, now)
            self._projects[name] = facts
            if len(self._projects) > MAX_PROJECTS:
                self._release(self._projects.popitem(last=False)[1])
        self._projects.move_to_end(name)
        return facts

    def manifest(self, facts: ProjectFacts, repository: str, digest: str) -> CachedManifest | None:
        found = facts.manifests.get((repository, digest))
        if found is not None:
            facts.manifests.move_to_end((repository, digest))
        return found

    def remember_manifest(
        self, facts: ProjectFacts, repository: str, manifest: CachedManifest
    ) -> None:
        if not facts.live or len(manifest.content) > MAX_CACHED_MANIFEST_BYTES:
            return
        key = (repository, manifest.digest)
        if key in facts.manifests:
            return
        facts.manifests[key] = manifest
        cost = _cost(manifest)
        facts.manifest_bytes += cost
        self._manifest_bytes += cost
        while self._manifest_bytes > MANIFEST_BUDGET_BYTES:
            victim = next((f for f in self._projects.values() if f.manifests), None)
            if victim is None:
                victim = facts if facts.manifests else None
            if victim is None:
                break
            _, dropped = victim.manifests.popitem(last=False)
            victim.manifest_bytes -= _cost(dropped)
            self._manifest_bytes -= _cost(dropped)

    def _release(self, facts: ProjectFacts) -> None:
        facts.live = False
        self._manifest_bytes -= facts.manifest_bytes
        facts.manifests.clear()
        facts.manifest_bytes = 0

    def forget_all(self) -> None:
        for facts in self._projects.values():
            self._release(facts)
        self._projects.clear()
        self._manifest_bytes = 0


# What an entry costs beyond its bytes (key, record, dictionary slot), roughly.
_ENTRY_OVERHEAD = 512


def _cost(manifest: CachedManifest) -> int:
    return len(manifest.content) + _ENTRY_OVERHEAD


class _StampReads:
    """Stamp reads per project, shared by the requests that asked before each one started."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[tuple[Stamp, Stamp]]] = {}
        # The read that starts when the running one ends, for those who asked meanwhile.
        self._next: dict[str, asyncio.Future[tuple[Stamp, Stamp]]] = {}

    async def read(self, redis: Redis, name: str) -> tuple[Stamp, Stamp]:
        if name not in self._running:
            return await asyncio.shield(self._start(redis, name))
        waiting = self._next.get(name)
        if waiting is None:
            waiting = self._next[name] = asyncio.get_running_loop().create_future()
            # Its callers may all have gone (shield leaves it running): mark a failure seen.
            waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(waiting)

    def _start(self, redis: Redis, name: str) -> asyncio.Task[tuple[Stamp, Stamp]]:
        task = asyncio.create_task(_stamp(redis, name))
        self._running[name] = task
        task.add_done_callback(lambda done: self._finished(redis, name, done))
        return task

    def _finished(self, redis: Redis, name: str, done: asyncio.Task[tuple[Stamp, Stamp]]) -> None:
        del self._running[name]
        if not done.cancelled():
            done.exception()  # retrieved here: the callers each get it from their own await
        waiting = self._next.pop(name, None)
        if waiting is None:
            return
        following = self._start(redis, name)
        following.add_done_callback(lambda result: _settle(waiting, result))


def _settle(
    waiting: asyncio.Future[tuple[Stamp, Stamp]], result: asyncio.Task[tuple[Stamp, Stamp]]
) -> None:
    if waiting.done():
        return
    if result.cancelled():
        waiting.cancel()
    elif (exc := result.exception()) is not None:
        waiting.set_exception(exc)
    else:
        waiting.set_result(result.result())


async def _stamp(redis: Redis, name: str) -> tuple[Stamp, Stamp]:
    keys = (ALL_PROJECTS_KEY, project_key(name))
    values = await redis.mget(keys)
    if values[0] is None or values[1] is None:
        # First use (or Redis started over): set a stamp, unless another process just did.
        async with redis.pipeline(transaction=False) as pipe:
            for key, value in zip(keys, values, strict=True):
                if value is None:
                    pipe.set(key, _new_stamp(), nx=True)
            pipe.mget(keys)
            values = (await pipe.execute())[-1]
    first, second = values
    if first is None or second is None:
        raise RedisError("the read cache's stamps vanished as they were set")
    return first, second


def _new_stamp() -> str:
    return secrets.token_hex(8)


async def changed(redis: Redis, project_name: str) -> None:
    """Announce that a cached fact of the project changed; call it after the commit, so no
    process can read the old state under the new stamp."""
    await _announce(redis, project_key(project_name))


async def changed_everywhere(redis: Redis) -> None:
    """Announce a change that may touch any project (garbage collection)."""
    await _announce(redis, ALL_PROJECTS_KEY)


async def _announce(redis: Redis, key: str) -> None:
    try:
        await redis.set(key, _new_stamp())
    except (RedisError, OSError, TimeoutError) as exc:
        # Readers elsewhere cannot check their stamps while Redis is down either; entries they
        # kept age out after MAX_AGE_SECONDS.
        log.warning("could not announce a change to the read cache: %r", exc)
