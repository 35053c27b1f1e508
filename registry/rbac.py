"""Who may do what to which project: the one place that decides.

Roles and members arrive with the identity service; until then a system administrator may do
everything and everyone else, anonymous included, may pull from public projects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from registry.auth.basic import Principal


class Action(StrEnum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ProjectRef:
    id: int
    name: str
    public: bool


def may(principal: Principal, project: ProjectRef, action: Action) -> bool:
    if principal.sysadmin:
        return True
    return action is Action.PULL and project.public


def may_list_catalog(principal: Principal) -> bool:
    return principal.sysadmin
