"""System-wide operations: the configuration, statistics and search across projects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import blobs, projects, repositories
from registry.rbac import Action, project_scope
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import NotPermitted

SEARCH_LIMIT = 100


@dataclass(frozen=True, slots=True)
class SearchResult:
    projects: list[asyncpg.Record]
    repositories: list[asyncpg.Record]


async def update_configuration(b: Backends, actor: Principal, values: dict[str, Any]) -> None:
    if not actor.sysadmin:
        raise NotPermitted("only system administrators may do this")
    await b.config.update(values)
    # Authentication settings may have changed: cached logins must be decided again.
    await b.identity.changed()
    # Record which keys changed, never their values: some are secrets.
    await b.audit.record(
        AuditEvent("update", "configuration", ",".join(sorted(values)), actor.name)
    )


async def statistics(b: Backends, actor: Principal) -> dict[str, int]:
    """Counts over the projects the actor can see; the storage used, for system admins."""
    found = await projects.statistics(b.db, project_scope(actor, Action.READ_PROJECT))
    if actor.sysadmin:
        found["total_storage_consumption"] = await blobs.total_size(b.db)
    return found


async def search(b: Backends, actor: Principal, text: str) -> SearchResult:
    """Projects and repositories the actor can see whose names contain ``text``."""
    scope = project_scope(actor, Action.READ_PROJECT)
    return SearchResult(
        await projects.search_by_name(b.db, scope, text, SEARCH_LIMIT),
        await repositories.search_by_name(b.db, scope, text, SEARCH_LIMIT),
    )
