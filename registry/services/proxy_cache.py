"""Proxy-cache projects: a project with a ``registry_id`` is a pull-through cache of that
registry. ``<project>/<repo>`` is the upstream's ``<repo>``.

A manifest asked for by a digest Berth holds is served without asking upstream. Any other
manifest request asks upstream (HEAD) which digest the reference names, and the cached copy
is served when it matches. On a miss the upstream manifest is served at once and the
artifact is cached in the background (blobs streamed from upstream into the store, skipping
those already held, then the manifest by digest and its tag); a blob the client asks for
before it is cached is streamed to it from upstream meanwhile, so no client waits for a whole
image to be cached. An upstream that is down, refuses, or answers 5xx/429 leaves the cache
to answer alone; an upstream 404 is a 404, as in Harbor. Clients cannot push into such a
project. Its tags list is the union of the cached and the upstream tags (the cached ones
alone while upstream cannot answer).
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
from registry.services.replication_local import LocalAdapter

log = logging.getLogger(__name__)

OPERATOR = "proxy-cache"
# How long a client waits for upstream before the cache answers alone.
UPSTREAM_CHECK_SECONDS = 10.0
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
    copier = Copier(upstream, LocalAdapter(b, OPERATOR), upstream_repository, repository, _quiet)
    try:
        await copier.copy_artifact(digest, tags, override=True)
    except AdapterError as exc:
        log.warning("caching %s@%s failed: %s", repository, digest, exc)
    finally:
        await upstream.close()


@dataclass
class UpstreamBlob:
    """A blob read from upstream: ``size``, then ``chunks()`` once or ``close()``."""

    size: int
    _chunks: AsyncIterator[bytes]
    _upstream: Adapter

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.close()

    async def close(self) -> None:
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
    project, or upstream cannot give it)."""
    registry_id = await _proxied_by(b, project, facts)
    if registry_id is None:
        return None
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    try:
        size, chunks = await upstream.open_blob(_upstream_name(project, repository), str(digest))
    except AdapterError as exc:
        await upstream.close()
        log.info("upstream cannot give %s (%s)", digest, exc)
        return None
    return UpstreamBlob(size, chunks, upstream)


async def _quiet(message: str) -> None:
    log.debug("proxy cache: %s", message)
