"""A project's metadata one key at a time, as Harbor's ``/projects/{p}/metadatas`` API does:
list, add (a key not set yet), read, change and remove one key."""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.db import project_metadata, projects
from registry.rbac import ProjectRef
from registry.services import read_cache
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ResourceExists, ResourceUnknown
from registry.services.project import check_metadata


async def list_metadata(b: Backends, project: ProjectRef) -> dict[str, str]:
    row = await projects.get_detail(b.db, project.id)
    if row is None:
        raise ResourceUnknown(f"project {project.name} not found")
    return dict(row["metadata"] or {})


async def get_entry(b: Backends, project: ProjectRef, name: str) -> dict[str, str]:
    found = await list_metadata(b, project)
    if name not in found:
        raise ResourceUnknown(f"project {project.name} has no metadata {name}")
    return {name: found[name]}


async def cached(
    b: Backends, project: ProjectRef, facts: read_cache.ProjectFacts | None
) -> dict[str, str]:
    """The project's metadata, as ``facts`` remember it when given (read once per stamp:
    every change here announces itself)."""
    if facts is not None and facts.metadata is not None:
        return facts.metadata
    metadata = await projects.metadata_of(b.db, project.id)
    if facts is not None and facts.live:
        facts.metadata = metadata
    return metadata


def _one_pair(given: dict[str, object]) -> tuple[str, str]:
    if len(given) != 1:
        raise InvalidRequest("only allow one key/value pair")
    ((key, value),) = check_metadata(given).items()
    return key, value


async def _change(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    key: str,
    value: str | None,
    *,
    must_be_new: bool = False,
) -> None:
    """Set (or, with None, remove) one key under the project's row lock, so concurrent
    changes of other keys are not lost."""
    async with b.db.acquire() as conn, conn.transaction():
        current = await project_metadata.lock(conn, project.id)
        if current is None:
            raise ResourceUnknown(f"project {project.name} not found")
        if must_be_new and key in current:
            raise ResourceExists(f"metadata {key} of project {project.name} already exists")
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
        await projects.update_metadata(conn, project.id, current, current.get("public") == "true")
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(AuditEvent("update", "project", project.name, actor.name, project.id))


async def add_entry(
    b: Backends, actor: Principal, project: ProjectRef, given: dict[str, object]
) -> None:
    key, value = _one_pair(given)
    await _change(b, actor, project, key, value, must_be_new=True)


async def update_entry(
    b: Backends, actor: Principal, project: ProjectRef, name: str, given: dict[str, object]
) -> None:
    """Change key ``name`` to the value the body gives it (Harbor reads only that key)."""
    if name not in given:
        raise InvalidRequest(f"the body must give a value for {name}")
    key, value = _one_pair({name: given[name]})
    await _change(b, actor, project, key, value)


async def delete_entry(b: Backends, actor: Principal, project: ProjectRef, name: str) -> None:
    await get_entry(b, project, name)
    await _change(b, actor, project, name, None)
