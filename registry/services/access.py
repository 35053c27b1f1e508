"""What a principal may do in a project: role lookup feeding :mod:`registry.rbac`."""

from __future__ import annotations

import asyncpg

from registry.auth.principal import Principal, PrincipalKind
from registry.db import members, robots
from registry.db.pool import Executor
from registry.rbac import Action, ProjectRef, Role, allowed, robot_actions, strongest
from registry.services.errors import NotPermitted
from registry.services.immutability import doublestar_match


async def role_in(db: Executor, principal: Principal, project: ProjectRef) -> Role | None:
    if principal.kind is not PrincipalKind.USER or principal.user_id is None:
        return None
    found = await members.roles_of(db, project.id, principal.user_id, principal.group_ids)
    return strongest(Role(r) for r in found)


async def actions_in(
    db: Executor, principal: Principal, project: ProjectRef, repository: str | None = None
) -> frozenset[Action]:
    """What the principal may do in the project, or in one of its repositories (robot
    permissions limited to a repository pattern count only there)."""
    if principal.sysadmin:
        return frozenset(Action)
    if principal.kind is PrincipalKind.ROBOT and principal.robot_id is not None:
        rows = await robots.permission_rows(db, principal.robot_id, project.id)
        return _robot_actions_in(rows, principal, project, repository)
    return allowed(principal, project, await role_in(db, principal, project))


def _robot_actions_in(
    rows: list[asyncpg.Record], robot: Principal, project: ProjectRef, repository: str | None
) -> frozenset[Action]:
    def applies(pattern: str) -> bool:
        prefix = f"{project.name}/"
        if repository is None or not repository.startswith(prefix):
            return False
        return doublestar_match(pattern, repository[len(prefix) :])

    allow, deny = robots.access_of(rows, applies)
    return allowed(robot, project, None, robot_actions(allow, deny))


async def repositories_allowing(
    db: Executor, principal: Principal, project: ProjectRef, action: Action, names: list[str]
) -> list[str]:
    """Those of the project's repositories ``names`` in which the principal may ``action``
    (for a robot, its permissions limited to repository patterns count where they match)."""
    if principal.kind is PrincipalKind.ROBOT and principal.robot_id is not None:
        rows = await robots.permission_rows(db, principal.robot_id, project.id)
        return [n for n in names if action in _robot_actions_in(rows, principal, project, n)]
    return names if await may(db, principal, project, action) else []


async def may(
    db: Executor,
    principal: Principal,
    project: ProjectRef,
    action: Action,
    repository: str | None = None,
) -> bool:
    return action in await actions_in(db, principal, project, repository)


async def require(db: Executor, principal: Principal, project: ProjectRef, action: Action) -> None:
    """NotPermitted unless the principal may ``action`` in the project."""
    if not await may(db, principal, project, action):
        raise NotPermitted(f"not allowed to {action.value} in project {project.name}")
