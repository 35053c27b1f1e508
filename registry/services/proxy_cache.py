"""Proxy-cache projects: a project with a ``registry_id`` is a pull-through cache of that
registry. ``<project>/<repo>`` is the upstream's ``<repo>``.

A manifest asked for by a digest Berth holds is served without asking upstream. Any other
manifest request asks upstream (HEAD) which digest the reference names, and the cached copy
is served when it matches. On a miss the upstream manifest is served at once and the
artifact is cached in the background (blobs streamed from upstream into the store, skipping
those already held, then the manifest by digest and its tag); a blob the client asks for
before it is cached is streamed to it from upstream meanwhile, so no client waits for a whole
image to be cached. An upstream that is down, refuses, or answers 5xx/429 leaves the cache
to answer alone; an upstream 404 is a 404, as in Harbor. A blob streamed on to a client is
written into the store as it passes (:mod:`registry.services.proxy_fills`), and the
background copy waits for such a fill instead of fetching the blob from upstream again.
Clients cannot push into such a project. Its tags list is the union of the cached and the
upstream tags (the cached ones alone while upstream cannot answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from registry.auth.principal import Principal
from registry.db import replication_registries as registries_db
from registry.oci.digest import Digest, looks_like_digest
from registry.rbac import ProjectRef
from registry.replication.adapter import Adapter, AdapterError, Manifest
from registry.replication.copy import Copier
from registry.replication.distribution import DistributionAdapter
from registry.services import manifest as manifest_service
from registry.services import read_cache, replication_registry, retention
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    ManifestUnknown,
    NameUnknown,
    NotPermitted,
)
from registry.services.proxy_fills import Fill
from registry.services.replication_local import LocalAdapter

log = logging.getLogger(__name__)

OPERATOR = "proxy-cache"
# How long a client waits for upstream before the cache answers alone.
UPSTREAM_CHECK_SECONDS = 10.0
# How long the background copy waits for a client's stream to fill a blob before fetching it.
FILL_WAIT_SECONDS = 600.0
# Chunks of a client's stream that may wait for the store before the client waits too.
TEE_BACKLOG = 8
# The most cached tags of one repository merged into an upstream tags list.
_ALL_TAGS = 100_000


async def registry_of(b: Backends, project_id: int) -> int | None:
    return await registries_db.proxied_by(b.db, project_id)


async def _proxied_by(
    b: Backends, project: ProjectRef, facts: read_cache.ProjectFacts | None
) -> int | None:
    if facts is not None and facts.proxied_known:
        return facts.proxied_by
    registry_id = await registries_db.proxied_by(b.db, project.id)
    if facts is not None:
        facts.proxied_by, facts.proxied_known = registry_id, True
    return registry_id


async def check_may_proxy(b: Backends, actor: Principal, registry_id: object) -> int:
    """Only system administrators make proxy projects, of a registry that exists."""
    if not isinstance(registry_id, int) or isinstance(registry_id, bool) or registry_id <= 0:
        raise InvalidRequest("registry_id must be a positive integer")
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may create proxy cache projects")
    if await registries_db.get(b.db, registry_id) is None:
        raise InvalidRequest(f"registry {registry_id} does not exist")
    return registry_id


# Harbor's policy for what a proxy project caches: keep what was pulled in the last 7 days.
DEFAULT_RETENTION = {
    "algorithm": "or",
    "rules": [
        {
            "action": "retain",
            "template": "nDaysSinceLastPull",
            "params": {"nDaysSinceLastPull": 7},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
            "scope_selectors": {
                "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
            },
        }
    ],
    "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}},
}


async def make_proxy(b: Backends, actor: Principal, project: ProjectRef, registry_id: int) -> None:
    """Make the project a cache of the registry, with Harbor's default retention."""
    await registries_db.set_proxied(b.db, project.id, registry_id)
    await read_cache.changed(b.redis, project.name)
    spec = retention.parse_policy(DEFAULT_RETENTION)
    await retention.create_policy(b, actor, project, spec)


async def refuse_push(
    b: Backends, project: ProjectRef, facts: read_cache.ProjectFacts | None = None
) -> None:
    if await _proxied_by(b, project, facts) is not None:
        raise NotPermitted(f"{project.name} is a proxy cache project: it takes no pushes")


def _upstream_name(project: ProjectRef, repository: str) -> str:
    return repository.removeprefix(f"{project.name}/")


async def fill_manifest(
    b: Backends,
    project: ProjectRef,
    repository: str,
    reference: str,
    facts: read_cache.ProjectFacts | None = None,
) -> Manifest | None:
    """For a proxy project: the upstream manifest to serve while the artifact is cached in
    the background, or None when the cache is to answer (it holds the artifact, or upstream
    cannot be asked). Raises ``ManifestUnknown`` when upstream says it does not exist. A
    no-op (None) for an ordinary project."""
    registry_id = await _proxied_by(b, project, facts)
    if registry_id is None:
        return None
    local = LocalAdapter(b, OPERATOR)
    cached = await local.manifest_digest(repository, reference)
    if cached is not None and looks_like_digest(reference):
        return None
    upstream_repository = _upstream_name(project, repository)
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    try:
        async with asyncio.timeout(UPSTREAM_CHECK_SECONDS):
            current = await upstream.manifest_digest(upstream_repository, reference)
            if current is None:
                raise ManifestUnknown(detail={"reference": reference})
            if current == cached:
                return None
            manifest = await upstream.pull_manifest(upstream_repository, current)
    except (AdapterError, TimeoutError) as exc:
        log.info("upstream of %s unavailable (%s); serving the cache", repository, exc)
        return None
    finally:
        await upstream.close()
    tags = [] if looks_like_digest(reference) else [reference]
    b.background.spawn(
        _cache(b, registry_id, upstream_repository, repository, current, tags),
        f"caching {repository}@{current}",
    )
    return manifest


async def list_tags(
    b: Backends,
    project: ProjectRef,
    repository: str,
    last: str | None,
    limit: int,
    facts: read_cache.ProjectFacts | None = None,
) -> list[str] | None:
    """tags/list of a proxy project: the cached tags and upstream's, in lexical order after
    ``last`` (None for an ordinary project). ``NameUnknown`` when neither side knows the
    repository."""
    registry_id = await _proxied_by(b, project, facts)
    if registry_id is None:
        return None
    try:
        cached = await manifest_service.list_tags(b, repository, None, _ALL_TAGS)
    except NameUnknown:
        cached = None
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    try:
        async with asyncio.timeout(UPSTREAM_CHECK_SECONDS):
            remote = await _upstream_tags(upstream, _upstream_name(project, repository))
    except (AdapterError, TimeoutError) as exc:
        log.info("upstream of %s unavailable (%s); listing the cached tags", repository, exc)
        remote = []
    finally:
        await upstream.close()
    if cached is None and not remote:
        raise NameUnknown(detail={"name": repository})
    # Code-point order is UTF-8 byte order, the order of the local list.
    merged = sorted(set(cached or ()) | set(remote))
    return [tag for tag in merged if last is None or tag > last][:limit]


async def _upstream_tags(upstream: Adapter, repository: str) -> list[str]:
    if isinstance(upstream, DistributionAdapter):
        return await upstream.list_tags(repository)
    return [tag for artifact in await upstream.list_artifacts(repository) for tag in artifact.tags]


async def _cache(
    b: Backends,
    registry_id: int,
    upstream_repository: str,
    repository: str,
    digest: str,
    tags: list[str],
) -> None:
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    copier = Copier(upstream, _FillingStore(b, OPERATOR), upstream_repository, repository, _quiet)
    try:
        await copier.copy_artifact(digest, tags, override=True)
    except AdapterError as exc:
        log.warning("caching %s@%s failed: %s", repository, digest, exc)
    finally:
        await upstream.close()


async def await_fill(b: Backends, repository: str, digest: Digest) -> bool:
    """Wait while the blob is being written into a proxy project's store (by the background
    copy or a client's stream); True when there was such a write to wait for."""
    if not await b.blob_fills.filling(b.redis, repository, str(digest)):
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FILL_WAIT_SECONDS):
            await b.blob_fills.wait(b.redis, repository, str(digest))
    return True


class _FillingStore(LocalAdapter):
    """The proxy project's store as the background copy sees it: a blob a client's stream is
    writing is waited for, then found there; a blob it writes itself is announced, so a
    client asking for it meanwhile waits and reads it from the store, and every blob comes
    from upstream once."""

    async def blob_exists(self, repository: str, digest: str) -> bool:
        await await_fill(self._b, repository, Digest.parse(digest))
        return await super().blob_exists(repository, digest)

    async def push_blob(
        self, repository: str, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        # A client's stream may have begun writing it since blob_exists: its write is waited
        # for, and this one made only if that stream was cut off before the end.
        while True:
            fill = self._b.blob_fills.begin(repository, digest)
            if fill is not None and await fill.claim_everywhere(self._b.redis):
                break
            await await_fill(self._b, repository, Digest.parse(digest))
            if await super().blob_exists(repository, digest):
                await chunks.aclose()  # type: ignore[attr-defined]
                return
        try:
            await super().push_blob(repository, digest, size, chunks)
        finally:
            fill.end()


async def _teed(
    b: Backends,
    repository: str,
    digest: str,
    size: int,
    chunks: AsyncIterator[bytes],
    fill: Fill | None,
) -> AsyncIterator[bytes]:
    """``chunks`` as they come, written into the proxy project's store on the way when this
    stream holds the blob's ``fill`` (which it then ends). A store that fails or lags never
    fails the client: its write is dropped, or the client waits for at most ``TEE_BACKLOG``
    chunks."""
    if fill is None:
        async for chunk in chunks:
            yield chunk
        return
    backlog: asyncio.Queue[bytes | None] = asyncio.Queue(TEE_BACKLOG)

    async def fed() -> AsyncIterator[bytes]:
        while (chunk := await backlog.get()) is not None:
            yield chunk

    async def write() -> None:
        try:
            await LocalAdapter(b, OPERATOR).push_blob(repository, digest, size, fed())
        except Exception as exc:
            log.warning("caching %s@%s from a client's stream failed: %s", repository, digest, exc)

    # The write outlives the client's request (a client may hang up the moment it has the last
    # byte), and the fill lasts as long as the write: the background copy then finds the blob.
    store = b.background.spawn(write(), f"caching {repository}@{digest} from a client's stream")
    if store is None:
        fill.end()
        async for chunk in chunks:
            yield chunk
        return
    store.add_done_callback(lambda _: fill.end())
    whole = False
    try:
        async for chunk in chunks:
            if not store.done():
                await backlog.put(chunk)
            yield chunk
        whole = True
        if not store.done():
            await backlog.put(None)
    finally:
        if not whole:
            store.cancel()


@dataclass
class UpstreamBlob:
    """A blob read from upstream: ``size``, then ``chunks()`` once or ``close()``."""

    size: int
    _chunks: AsyncIterator[bytes]
    _upstream: Adapter
    # The claimed write into the store; once the stream starts, the stream owns it.
    _fill: Fill | None
    _started: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        self._started = True
        try:
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.close()

    async def close(self) -> None:
        if not self._started and self._fill is not None:  # a HEAD, or never read
            self._fill.end()
        with contextlib.suppress(Exception):
            await self._chunks.aclose()  # type: ignore[attr-defined]
        await self._upstream.close()


async def upstream_blob(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: Digest,
    facts: read_cache.ProjectFacts | None = None,
) -> UpstreamBlob | None:
    """A blob the proxy project does not hold yet, streamed from upstream (None: not a proxy
    project, or upstream cannot give it). Its write into the store is claimed before anything
    is awaited, so the background copy, which looks for claims, never fetches it as well."""
    fill = b.blob_fills.begin(repository, str(digest))
    registry_id = await _proxied_by(b, project, facts)
    if registry_id is None:
        if fill is not None:
            fill.end()
        return None
    if fill is not None and not await fill.claim_everywhere(b.redis):
        fill = None  # another process writes it; this stream only relays
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    try:
        size, chunks = await upstream.open_blob(_upstream_name(project, repository), str(digest))
    except AdapterError as exc:
        if fill is not None:
            fill.end()
        await upstream.close()
        log.info("upstream cannot give %s (%s)", digest, exc)
        return None
    teed = _teed(b, repository, str(digest), size, chunks, fill)
    return UpstreamBlob(size, teed, upstream, fill)


async def _quiet(message: str) -> None:
    log.debug("proxy cache: %s", message)
