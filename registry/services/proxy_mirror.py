"""Berth as a registry mirror (``registry-mirrors`` of Docker, ``[[registry.mirror]]`` of
``registries.conf``): a client that mirrors an upstream through Berth asks for the upstream's
own names (``library/alpine``), which the proxy project mapped to that upstream answers
(``hub/library/alpine``), so no client names the proxy project.

The mapping is the ``proxy_mirrors`` setting, upstream host → proxy project. Mirror clients do
not say which registry they mirror, except containerd's ``ns`` query parameter; requests that
do not say are the first entry's. Berth's own names come first: only a read of a name whose
first component is no project of Berth's goes to the mirror project; pushes never do.
"""

from __future__ import annotations

from registry.db import projects
from registry.db import replication_registries as registries_db
from registry.oci.names import is_valid_repository, project_of
from registry.services.context import Backends
from registry.token.scope import Scope


def _mirror_project(b: Backends, upstream_host: str | None) -> str | None:
    mirrors = b.settings.proxy_mirrors
    if upstream_host and upstream_host in mirrors:
        return mirrors[upstream_host]
    return next(iter(mirrors.values()), None)


async def mirrored_name(b: Backends, name: str, upstream_host: str | None = None) -> str | None:
    """The proxy project's name for a repository a mirror client reads (None: the name is
    Berth's own, or no mirror is set up)."""
    target = _mirror_project(b, upstream_host)
    if target is None or not is_valid_repository(name):
        return None
    if await projects.get_by_name(b.db, project_of(name)) is not None:
        # Berth's own project (a proxy project's name included): never sent upstream, so a
        # missing or misspelt repository of a private project cannot be filled by whoever
        # owns that name upstream.
        return None
    proxy = await projects.get_by_name(b.db, target)
    if proxy is None or await registries_db.proxied_by(b.db, proxy["id"]) is None:
        return None
    return f"{target}/{name}"


async def mirrored_scopes(b: Backends, scopes: list[Scope]) -> list[Scope]:
    """Token scopes as the registry will check them: a pull-only scope of a name the mirror
    answers names the proxy project's repository."""
    if not b.settings.proxy_mirrors:
        return scopes
    routed = []
    for scope in scopes:
        if scope.type == "repository" and scope.actions <= {"pull"}:
            name = await mirrored_name(b, scope.name)
            if name is not None:
                scope = Scope(scope.type, name, scope.actions)
        routed.append(scope)
    return routed
