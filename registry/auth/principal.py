"""Who is calling, once authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    USER = "user"
    ROBOT = "robot"


@dataclass(frozen=True, slots=True)
class Principal:
    username: str | None
    kind: PrincipalKind = PrincipalKind.ANONYMOUS
    user_id: int | None = None
    robot_id: int | None = None
    sysadmin: bool = False
    # User groups (ids in user_groups) the identity backend put the user in at login.
    group_ids: tuple[int, ...] = ()

    @property
    def anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @property
    def name(self) -> str:
        """For audit records and token subjects."""
        return self.username or "anonymous"


ANONYMOUS = Principal(username=None)
