"""The token service's decision: requested scopes ∩ what the caller may do."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.auth.principal import Principal
from registry.db import projects
from registry.db.pool import Executor
from registry.oci.names import is_valid_repository, project_of
from registry.rbac import Action, ProjectRef, may_list_catalog
from registry.services.access import actions_in
from registry.token.scope import Scope

# Token actions and the project permission each needs.
_NEEDS = {"pull": Action.PULL, "push": Action.PUSH, "delete": Action.DELETE}


@dataclass(frozen=True, slots=True)
class Grant:
    # Every requested scope, with the actions cut down to those allowed (possibly none).
    scopes: list[Scope]
    # The id of each project a requested repository is in, for the projects that exist: the
    # registry refuses the token for a project that has since been deleted and made again.
    projects: dict[str, int] = field(default_factory=dict)


async def grant(db: Executor, principal: Principal, requested: list[Scope]) -> Grant:
    """What the caller gets of the requested scopes."""
    granted: list[Scope] = []
    found: dict[str, ProjectRef | None] = {}
    allowed_in: dict[str, frozenset[Action]] = {}
    project_ids: dict[str, int] = {}
    for scope in requested:
        if scope.type == "repository" and is_valid_repository(scope.name):
            project_name = project_of(scope.name)
            if project_name not in found:
                row = await projects.get_by_name(db, project_name)
                found[project_name] = (
                    None if row is None else ProjectRef(row["id"], row["name"], row["public"])
                )
                if row is not None:
                    project_ids[project_name] = row["id"]
            project = found[project_name]
            # Per repository: a robot's permission may hold for some repositories only.
            if scope.name not in allowed_in:
                allowed_in[scope.name] = (
                    frozenset()
                    if project is None
                    else await actions_in(db, principal, project, scope.name)
                )
        actions: set[str] = set()
        if scope.type == "registry" and scope.name == "catalog":
            if may_list_catalog(principal):
                actions = set(scope.actions) & {"*"}
        elif not (scope.type == "repository" and is_valid_repository(scope.name)):
            pass  # unknown resource types and malformed names get nothing
        elif principal.sysadmin:
            # Even for a project that does not exist: the registry then says so (NAME_UNKNOWN)
            # instead of an unexplained 401.
            actions = {a for a in scope.actions if a in (*_NEEDS, "*")}
        else:
            permitted = allowed_in[scope.name]
            actions = {a for a in scope.actions if a in _NEEDS and _NEEDS[a] in permitted}
            if "*" in scope.actions and set(_NEEDS.values()) <= permitted:
                actions.add("*")
        granted.append(Scope(scope.type, scope.name, frozenset(actions)))
    return Grant(granted, project_ids)
