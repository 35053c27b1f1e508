"""Repositories as the management API sees them: listing, description, deletion."""

from __future__ import annotations

import asyncpg

from registry.auth.principal import Principal
from registry.db import artifacts, repositories, tags
from registry.events import DELETE_ARTIFACT
from registry.query import ListQuery, ProjectScope
from registry.rbac import Action, ProjectRef, project_scope
from registry.services import notify, read_cache
from registry.services.artifact import check_tags_mutable, remove_artifacts
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import RepositoryUnknown


async def list_repositories(
    b: Backends, actor: Principal, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """The repositories of every project the actor can see."""
    return await repositories.list_repositories(
        b.db, query, project_scope(actor, Action.READ_PROJECT)
    )


async def list_in_project(
    b: Backends, project: ProjectRef, query: ListQuery, names: list[str] | None = None
) -> tuple[list[asyncpg.Record], int]:
    """The repositories of one project (only these ``names``, when given), for a caller
    already allowed to read them."""
    return await repositories.list_repositories(
        b.db, query, ProjectScope(everything=True), project.id, names
    )


async def get_repository(b: Backends, name: str) -> asyncpg.Record:
    row = await repositories.get_detail(b.db, name)
    if row is None:
        raise RepositoryUnknown()
    return row


async def set_description(
    b: Backends, actor: Principal, project: ProjectRef, repository: asyncpg.Record, text: str
) -> None:
    await repositories.set_description(b.db, repository["id"], text)
    await b.audit.record(
        AuditEvent("update", "repository", repository["name"], actor.name, project.id)
    )


async def delete_repository(
    b: Backends, actor: Principal, project: ProjectRef, repository: asyncpg.Record
) -> None:
    """The repository with all its artifacts; refused while one of its tags is immutable."""
    name = repository["name"]
    tag_names = await tags.all_names(b.db, repository["id"])
    await check_tags_mutable(b, project, name, tag_names)
    digests = await artifacts.digests_in_repository(b.db, repository["id"])
    first_tags = await artifacts.tags_of(b.db, list(digests))
    await remove_artifacts(b, project, list(digests))
    await repositories.delete(b.db, repository["id"])
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(AuditEvent("delete", "repository", name, actor.name, project.id))
    # Each artifact went with its repository: one DELETE_ARTIFACT each, as deleting them one
    # by one would have sent.
    for artifact_id, digest in digests.items():
        tagged = first_tags[artifact_id]
        tag = tagged[0]["name"] if tagged else None
        notify.artifact_event(b, DELETE_ARTIFACT, project, name, digest, tag, actor.name)
