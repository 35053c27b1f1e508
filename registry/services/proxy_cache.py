"""Proxy-cache projects: a project with a ``registry_id`` is a pull-through cache of that
registry. ``<project>/<repo>`` is the upstream's ``<repo>``.

A manifest asked for by a digest Berth holds is served without asking upstream. Any other
manifest request asks upstream (HEAD) which digest the reference names: the local copy is
served when it matches; otherwise the artifact is copied in first (blobs streamed from
upstream into the store, skipping those already held, then the manifest), and served from
the cache. An upstream that is down, refuses, or answers 5xx/429 leaves the cache to answer
alone; an upstream 404 is a 404, as in Harbor. Clients cannot push into such a project.
"""

from __future__ import annotations

import asyncio
import logging

from registry.auth.principal import Principal
from registry.db import replication_registries as registries_db
from registry.oci.digest import looks_like_digest
from registry.rbac import ProjectRef
from registry.replication.adapter import AdapterError
from registry.replication.copy import Copier
from registry.services import replication_registry
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ManifestUnknown, NotPermitted
from registry.services.replication_local import LocalAdapter

log = logging.getLogger(__name__)

OPERATOR = "proxy-cache"
# How long a client waits for upstream before the cache answers alone.
UPSTREAM_CHECK_SECONDS = 10.0


async def registry_of(b: Backends, project_id: int) -> int | None:
    return await registries_db.proxied_by(b.db, project_id)


async def check_may_proxy(b: Backends, actor: Principal, registry_id: object) -> int:
    """Only system administrators make proxy projects, of a registry that exists."""
    if not isinstance(registry_id, int) or isinstance(registry_id, bool) or registry_id <= 0:
        raise InvalidRequest("registry_id must be a positive integer")
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may create proxy cache projects")
    if await registries_db.get(b.db, registry_id) is None:
        raise InvalidRequest(f"registry {registry_id} does not exist")
    return registry_id


async def make_proxy(b: Backends, project_id: int, registry_id: int) -> None:
    await registries_db.set_proxied(b.db, project_id, registry_id)


async def refuse_push(b: Backends, project: ProjectRef) -> None:
    if await registries_db.proxied_by(b.db, project.id) is not None:
        raise NotPermitted(f"{project.name} is a proxy cache project: it takes no pushes")


async def fill_manifest(b: Backends, project: ProjectRef, repository: str, reference: str) -> None:
    """Make the cache hold what upstream's ``reference`` names, when it can (a no-op for an
    ordinary project). Raises ``ManifestUnknown`` when upstream says it does not exist."""
    registry_id = await registries_db.proxied_by(b.db, project.id)
    if registry_id is None:
        return
    local = LocalAdapter(b, OPERATOR)
    cached = await local.manifest_digest(repository, reference)
    if cached is not None and looks_like_digest(reference):
        return
    upstream_repository = repository.removeprefix(f"{project.name}/")
    row = await replication_registry.get_registry(b, registry_id)
    upstream = replication_registry.adapter_of(b, row)
    try:
        try:
            async with asyncio.timeout(UPSTREAM_CHECK_SECONDS):
                current = await upstream.manifest_digest(upstream_repository, reference)
        except (AdapterError, TimeoutError) as exc:
            log.info("upstream of %s unavailable (%s); serving the cache", repository, exc)
            return
        if current is None:
            raise ManifestUnknown(detail={"reference": reference})
        if current == cached:
            return
        copier = Copier(upstream, local, upstream_repository, repository, _quiet)
        tags = [] if looks_like_digest(reference) else [reference]
        try:
            await copier.copy_artifact(current, tags, override=True)
        except AdapterError as exc:
            log.warning("caching %s@%s failed: %s", repository, current, exc)
    finally:
        await upstream.close()


async def _quiet(message: str) -> None:
    log.debug("proxy cache: %s", message)
