"""Who may do what to which project: the one place that decides.

Harbor's project roles, the actions each allows, and how robot permissions translate. The
functions here are pure; :mod:`registry.services.access` looks up the role a caller holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from registry.auth.principal import Principal


class Role(IntEnum):
    """Harbor's role ids, as the members API speaks them."""

    PROJECT_ADMIN = 1
    DEVELOPER = 2
    GUEST = 3
    MAINTAINER = 4
    LIMITED_GUEST = 5


# Strength order, for a user who is a member both directly and through groups.
_STRENGTH = {
    Role.PROJECT_ADMIN: 5,
    Role.MAINTAINER: 4,
    Role.DEVELOPER: 3,
    Role.GUEST: 2,
    Role.LIMITED_GUEST: 1,
}

ROLE_NAMES = {
    Role.PROJECT_ADMIN: "projectAdmin",
    Role.DEVELOPER: "developer",
    Role.GUEST: "guest",
    Role.MAINTAINER: "maintainer",
    Role.LIMITED_GUEST: "limitedGuest",
}


class Action(StrEnum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    SCAN = "scan"
    MANAGE_IMMUTABLE_RULES = "manage-immutable-rules"
    READ_PROJECT = "read-project"
    READ_MEMBERS = "read-members"
    READ_LOGS = "read-logs"
    READ_ROBOTS = "read-robots"
    READ_LABELS = "read-labels"
    MANAGE_LABELS = "manage-labels"
    LIST_WEBHOOKS = "list-webhooks"
    MANAGE_MEMBERS = "manage-members"
    MANAGE_ROBOTS = "manage-robots"
    MANAGE_WEBHOOKS = "manage-webhooks"
    MANAGE_PROJECT = "manage-project"


_GUEST = {
    Action.PULL,
    Action.READ_PROJECT,
    Action.READ_MEMBERS,
    Action.READ_LOGS,
    Action.READ_ROBOTS,
    Action.READ_LABELS,
}
_DEVELOPER = _GUEST | {Action.PUSH}
_MAINTAINER = _DEVELOPER | {
    Action.DELETE,
    Action.SCAN,
    Action.MANAGE_IMMUTABLE_RULES,
    Action.MANAGE_LABELS,
    Action.LIST_WEBHOOKS,
}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.LIMITED_GUEST: frozenset({Action.PULL, Action.READ_PROJECT}),
    Role.GUEST: frozenset(_GUEST),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.MAINTAINER: frozenset(_MAINTAINER),
    Role.PROJECT_ADMIN: frozenset(Action),
}

# Harbor robot permission items (resource, action) → what they allow in Berth.
ROBOT_ACCESS: dict[tuple[str, str], Action] = {
    ("repository", "pull"): Action.PULL,
    ("repository", "push"): Action.PUSH,
    ("repository", "delete"): Action.DELETE,
    ("artifact", "delete"): Action.DELETE,
    ("tag", "create"): Action.PUSH,
    ("tag", "delete"): Action.DELETE,
    ("artifact", "read"): Action.PULL,
    ("scan", "create"): Action.SCAN,
    ("member", "read"): Action.READ_MEMBERS,
    ("log", "list"): Action.READ_LOGS,
    ("project", "read"): Action.READ_PROJECT,
    ("helm-chart", "read"): Action.PULL,
    ("helm-chart-version", "create"): Action.PUSH,
}


@dataclass(frozen=True, slots=True)
class ProjectRef:
    id: int
    name: str
    public: bool
    created_at: datetime | None = None


def strongest(roles: Iterable[Role]) -> Role | None:
    found = list(roles)
    return max(found, key=lambda r: _STRENGTH[r]) if found else None


def robot_actions(access: Iterable[tuple[str, str]]) -> frozenset[Action]:
    actions = {ROBOT_ACCESS[item] for item in access if item in ROBOT_ACCESS}
    if Action.PULL in actions:
        actions.add(Action.READ_PROJECT)
    return frozenset(actions)


def allowed(
    principal: Principal,
    project: ProjectRef,
    role: Role | None,
    robot_grants: frozenset[Action] | None = None,
) -> frozenset[Action]:
    """Everything ``principal`` may do in ``project`` given the role it holds there (or the
    robot's grants for it)."""
    if principal.sysadmin:
        return frozenset(Action)
    actions: set[Action] = set()
    if robot_grants is not None:
        actions |= robot_grants
    elif role is not None:
        actions |= PERMISSIONS[role]
    if project.public:
        actions |= {Action.PULL, Action.READ_PROJECT}
    return frozenset(actions)


def may_list_catalog(principal: Principal) -> bool:
    return principal.sysadmin
