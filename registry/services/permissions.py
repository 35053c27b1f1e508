"""Permissions in Harbor's vocabulary, derived from :mod:`registry.rbac`: what the caller may
do in a scope (``/system`` or ``/project/{id}``), and what robot accounts may be given."""

from __future__ import annotations

from dataclasses import dataclass

from registry.auth.principal import Principal, PrincipalKind
from registry.db import members
from registry.rbac import SYSTEM_PAIRS, Role, harbor_pairs, robot_grantable
from registry.services import access
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, NotPermitted
from registry.services.project import find_project

SYSTEM_SCOPE = "/system"
_PROJECT_PREFIX = "/project/"


@dataclass(frozen=True, slots=True)
class Permission:
    resource: str
    action: str


async def _system_pairs(b: Backends, actor: Principal) -> list[tuple[str, str]]:
    if actor.sysadmin:
        return list(SYSTEM_PAIRS)
    if actor.kind is not PrincipalKind.USER:
        return []
    config = await b.config.get()
    return [("project", "create")] if config["project_creation_restriction"] == "everyone" else []


async def current_permissions(
    b: Backends, actor: Principal, scope: str | None, relative: bool
) -> list[Permission]:
    """What ``actor`` may do in ``scope`` (the system when None); resources are named from
    the scope's root (``/project/1/repository``) unless ``relative``."""
    scope = (scope or SYSTEM_SCOPE).rstrip("/") or SYSTEM_SCOPE
    if scope == SYSTEM_SCOPE:
        pairs = await _system_pairs(b, actor)
    elif scope.startswith(_PROJECT_PREFIX) and "/" not in scope[len(_PROJECT_PREFIX) :]:
        # A project the caller cannot see, or that does not exist, allows nothing.
        project = await find_project(b.db, scope[len(_PROJECT_PREFIX) :], by_name=False)
        actions = await access.actions_in(b.db, actor, project) if project else frozenset()
        pairs = harbor_pairs(actions)
    else:
        raise InvalidRequest("scope is /system or /project/{project_id}")
    return [
        Permission(resource if relative else f"{scope}/{resource}", action)
        for resource, action in pairs
    ]


async def grantable(b: Backends, actor: Principal) -> dict[str, list[Permission]]:
    """The permission items robot accounts may hold, for those who create them: system
    administrators (system and project levels) and project administrators (project level).
    Berth's robots hold project items only, so the system list is empty."""
    if not actor.sysadmin and not await _administers_a_project(b, actor):
        raise NotPermitted("only system and project administrators may list permissions")
    project = [Permission(r, a) for r, a in robot_grantable()]
    return {"system": [], "project": project} if actor.sysadmin else {"project": project}


async def _administers_a_project(b: Backends, actor: Principal) -> bool:
    if actor.kind is not PrincipalKind.USER or actor.user_id is None:
        return False
    return await members.holds_role_anywhere(
        b.db, int(Role.PROJECT_ADMIN), actor.user_id, actor.group_ids
    )
