"""Which repositories a caller sees when it may not read whole projects: a robot limited to
repository patterns (``proj/app-*``) lists, in the management API and in ``/v2/_catalog``,
the repositories its patterns match and nothing else."""

from __future__ import annotations

from itertools import groupby

from registry.auth.principal import Principal, PrincipalKind
from registry.db import repositories, robots
from registry.rbac import Action, ProjectRef
from registry.services import access
from registry.services.context import Backends


async def readable_in_project(
    b: Backends, actor: Principal, project: ProjectRef
) -> list[str] | None:
    """None when the actor may read the whole project; otherwise the names of the project's
    repositories it may read (none, for a caller without a repository-limited permission)."""
    if await access.may(b.db, actor, project, Action.READ_PROJECT):
        return None
    if actor.kind is not PrincipalKind.ROBOT:
        return []
    rows = await repositories.names_with_projects(b.db, [project.id])
    names = [r["name"] for r in rows]
    return await access.repositories_allowing(b.db, actor, project, Action.READ_PROJECT, names)


async def catalog(b: Backends, actor: Principal, last: str | None, limit: int) -> list[str]:
    """``/v2/_catalog``: every repository for a system administrator; for a robot, those it
    may read, in byte-wise lexical order after ``last``."""
    if actor.sysadmin:
        return await repositories.list_names(b.db, last, limit)
    if actor.kind is not PrincipalKind.ROBOT or actor.robot_id is None:
        return []
    project_ids = await robots.project_ids_of(b.db, actor.robot_id)
    rows = await repositories.names_with_projects(b.db, project_ids)
    visible: list[str] = []
    by_project = sorted(rows, key=lambda r: r["project_id"])
    for _, group in groupby(by_project, key=lambda r: r["project_id"]):
        members = list(group)
        first = members[0]
        project = ProjectRef(first["project_id"], first["project_name"], first["public"])
        names = [r["name"] for r in members]
        visible += await access.repositories_allowing(
            b.db, actor, project, Action.READ_PROJECT, names
        )
    # Code-point order is UTF-8 byte order, the order of the database's "C" collation.
    visible.sort()
    return [name for name in visible if last is None or name > last][:limit]
