"""Who may do what to which project: the one place that decides.

Harbor's project roles, the actions each allows, and how robot permissions translate. The
functions here are pure; :mod:`registry.services.access` looks up the role a caller holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from registry.auth.principal import Principal, PrincipalKind
from registry.query import ProjectScope


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
    # Management API operations on artifacts and tags, apart from the registry's push and
    # delete (a robot may hold one without the other, as in Harbor).
    CREATE_TAG = "create-tag"
    DELETE_TAG = "delete-tag"
    DELETE_ARTIFACT = "delete-artifact"
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
    # The chart repository (ChartMuseum API): as for images, but granted to robots by
    # Harbor's helm-chart permission items rather than by the repository ones.
    READ_CHART = "read-chart"
    UPLOAD_CHART = "upload-chart"
    DELETE_CHART = "delete-chart"


_GUEST = {
    Action.PULL,
    Action.READ_PROJECT,
    Action.READ_MEMBERS,
    Action.READ_LOGS,
    Action.READ_ROBOTS,
    Action.READ_LABELS,
    Action.READ_CHART,
}
_DEVELOPER = _GUEST | {Action.PUSH, Action.CREATE_TAG, Action.UPLOAD_CHART}
_MAINTAINER = _DEVELOPER | {
    Action.DELETE_CHART,
    Action.DELETE,
    Action.DELETE_TAG,
    Action.DELETE_ARTIFACT,
    Action.SCAN,
    Action.MANAGE_IMMUTABLE_RULES,
    Action.MANAGE_LABELS,
    Action.LIST_WEBHOOKS,
}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.LIMITED_GUEST: frozenset({Action.PULL, Action.READ_PROJECT, Action.READ_CHART}),
    Role.GUEST: frozenset(_GUEST),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.MAINTAINER: frozenset(_MAINTAINER),
    Role.PROJECT_ADMIN: frozenset(Action),
}

# What anyone, even anonymous, may do in a public project.
PUBLIC_ACTIONS = frozenset({Action.PULL, Action.READ_PROJECT, Action.READ_CHART})


# Harbor robot permission items (resource, action) → what they allow in Berth. As in Harbor,
# only the repository items open the registry (a token's pull, push and delete); the others
# allow management API operations; the helm-chart items open the chart repository.
ROBOT_ACCESS: dict[tuple[str, str], frozenset[Action]] = {
    ("repository", "pull"): frozenset({Action.PULL, Action.READ_PROJECT}),
    ("repository", "push"): frozenset({Action.PUSH}),
    ("repository", "delete"): frozenset({Action.DELETE}),
    ("artifact", "read"): frozenset({Action.READ_PROJECT}),
    ("artifact", "delete"): frozenset({Action.DELETE_ARTIFACT}),
    ("tag", "create"): frozenset({Action.CREATE_TAG}),
    ("tag", "delete"): frozenset({Action.DELETE_TAG}),
    ("scan", "create"): frozenset({Action.SCAN}),
    ("member", "read"): frozenset({Action.READ_MEMBERS}),
    ("log", "list"): frozenset({Action.READ_LOGS}),
    ("project", "read"): frozenset({Action.READ_PROJECT}),
    ("helm-chart", "read"): frozenset({Action.READ_CHART}),
    ("helm-chart-version", "read"): frozenset({Action.READ_CHART}),
    ("helm-chart-version", "create"): frozenset({Action.UPLOAD_CHART}),
    ("helm-chart-version", "delete"): frozenset({Action.DELETE_CHART}),
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


def robot_actions(
    allow: Iterable[tuple[str, str]], deny: Iterable[tuple[str, str]] = ()
) -> frozenset[Action]:
    """What a robot's permission items in one project allow; a denied item wins over any
    allowed one."""
    granted: set[Action] = set()
    for item in allow:
        granted |= ROBOT_ACCESS.get(item, frozenset())
    for item in deny:
        granted -= ROBOT_ACCESS.get(item, frozenset())
    return frozenset(granted)


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
        actions |= PUBLIC_ACTIONS
    return frozenset(actions)


def may_list_catalog(principal: Principal) -> bool:
    """System administrators list every repository; robots (those limited to repository
    patterns included) the repositories they may read."""
    return principal.sysadmin or principal.kind is PrincipalKind.ROBOT


def roles_with(action: Action) -> frozenset[Role]:
    """The project roles that allow ``action``."""
    return frozenset(role for role, actions in PERMISSIONS.items() if action in actions)


def project_scope(principal: Principal, action: Action) -> ProjectScope:
    """Where ``principal`` may ``action``, for listing projects (``READ_PROJECT``) or what is
    recorded in them (``READ_LOGS``) without asking project by project; ``db`` turns the
    answer into SQL."""
    if principal.sysadmin:
        return ProjectScope(everything=True)
    public = action in PUBLIC_ACTIONS
    if principal.kind is PrincipalKind.USER and principal.user_id is not None:
        return ProjectScope(
            public=public,
            member_roles=frozenset(int(role) for role in roles_with(action)),
            user_id=principal.user_id,
            group_ids=principal.group_ids,
        )
    if principal.kind is PrincipalKind.ROBOT and action is Action.READ_PROJECT:
        # A robot sees the projects its permissions name, whatever they allow there.
        return ProjectScope(public=public, robot_id=principal.robot_id)
    return ProjectScope(public=public)


# Harbor's permission vocabulary: the (resource, action) pairs each Berth action stands for,
# as ``/users/current/permissions`` reports them (the portal and Terraform show or hide what
# a user may do from these). Every robot item of ``ROBOT_ACCESS`` comes back from the actions
# it grants.
HARBOR_PAIRS: dict[Action, tuple[tuple[str, str], ...]] = {
    Action.PULL: (("repository", "pull"),),
    Action.PUSH: (("repository", "push"), ("artifact", "create")),
    Action.DELETE: (("repository", "delete"),),
    Action.CREATE_TAG: (("tag", "create"),),
    Action.DELETE_TAG: (("tag", "delete"),),
    Action.DELETE_ARTIFACT: (("artifact", "delete"),),
    Action.SCAN: (("scan", "create"), ("scan", "stop")),
    Action.MANAGE_IMMUTABLE_RULES: tuple(
        ("immutable-tag", a) for a in ("create", "update", "delete", "list")
    ),
    Action.READ_PROJECT: (
        ("project", "read"),
        ("metadata", "list"),
        ("metadata", "read"),
        ("repository", "list"),
        ("repository", "read"),
        ("artifact", "list"),
        ("artifact", "read"),
        ("artifact-addition", "read"),
        ("accessory", "list"),
        ("tag", "list"),
        ("quota", "read"),
    ),
    Action.READ_MEMBERS: (("member", "read"), ("member", "list")),
    Action.READ_LOGS: (("log", "list"),),
    Action.READ_ROBOTS: (("robot", "read"), ("robot", "list")),
    Action.READ_LABELS: (("label", "read"), ("label", "list")),
    Action.MANAGE_LABELS: (
        ("label", "create"),
        ("label", "update"),
        ("label", "delete"),
        ("artifact-label", "create"),
        ("artifact-label", "delete"),
    ),
    Action.LIST_WEBHOOKS: (("notification-policy", "list"), ("notification-policy", "read")),
    Action.MANAGE_MEMBERS: (("member", "create"), ("member", "update"), ("member", "delete")),
    Action.MANAGE_ROBOTS: (("robot", "create"), ("robot", "update"), ("robot", "delete")),
    Action.MANAGE_WEBHOOKS: (
        ("notification-policy", "create"),
        ("notification-policy", "update"),
        ("notification-policy", "delete"),
    ),
    Action.MANAGE_PROJECT: (
        ("project", "update"),
        ("project", "delete"),
        ("metadata", "create"),
        ("metadata", "update"),
        ("metadata", "delete"),
        ("tag-retention", "create"),
        ("tag-retention", "read"),
        ("tag-retention", "update"),
        ("tag-retention", "delete"),
        ("tag-retention", "list"),
        ("tag-retention", "operate"),
    ),
    Action.READ_CHART: (
        ("helm-chart", "read"),
        ("helm-chart-version", "read"),
        ("helm-chart-version", "list"),
    ),
    Action.UPLOAD_CHART: (("helm-chart-version", "create"),),
    Action.DELETE_CHART: (("helm-chart-version", "delete"),),
}

# What a system administrator may do outside any project, in the same vocabulary.
SYSTEM_PAIRS: tuple[tuple[str, str], ...] = (
    ("audit-log", "list"),
    ("project", "create"),
    ("project", "list"),
    ("user", "create"),
    ("user", "list"),
    ("user", "update"),
    ("user", "delete"),
    ("user-group", "create"),
    ("user-group", "list"),
    ("user-group", "update"),
    ("user-group", "delete"),
    ("robot", "create"),
    ("robot", "list"),
    ("robot", "update"),
    ("robot", "delete"),
    ("label", "create"),
    ("label", "update"),
    ("label", "delete"),
    ("quota", "list"),
    ("quota", "update"),
    ("configuration", "read"),
    ("configuration", "update"),
    ("ldap-user", "create"),
    ("ldap-user", "list"),
    ("garbage-collection", "create"),
    ("garbage-collection", "list"),
    ("garbage-collection", "read"),
    ("garbage-collection", "stop"),
    ("purge-audit", "create"),
    ("purge-audit", "list"),
    ("purge-audit", "read"),
    ("purge-audit", "stop"),
    ("jobservice-monitor", "list"),
    ("jobservice-monitor", "stop"),
)


def harbor_pairs(actions: Iterable[Action]) -> list[tuple[str, str]]:
    """The Harbor (resource, action) pairs ``actions`` allow, each once, in a stable order."""
    held = set(actions)
    return list(dict.fromkeys(pair for a in Action if a in held for pair in HARBOR_PAIRS[a]))


def robot_grantable() -> list[tuple[str, str]]:
    """The project permission items a robot account may be given (those that allow
    something in Berth)."""
    return [item for item, grants in ROBOT_ACCESS.items() if grants]
