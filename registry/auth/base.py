"""The authenticator contract: one protocol every identity backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class AuthBackendError(Exception):
    """The backend could not be asked (unreachable, misconfigured): not a wrong password."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as an identity backend describes them after a successful login."""

    username: str
    email: str | None = None
    realname: str | None = None
    # Distinguished names (LDAP) or names of the groups the person belongs to, nested
    # memberships already resolved.
    groups: tuple[str, ...] = field(default_factory=tuple)
    # The backend says this person administers the whole system (LDAP group-admin DN).
    sysadmin: bool = False
    # Where the backend keeps the person (an LDAP DN), for display and re-sync.
    external_id: str | None = None


@runtime_checkable
class Authenticator(Protocol):
    name: str

    async def authenticate(self, username: str, password: str) -> Identity | None:
        """The identity behind these credentials, or None when they are wrong.

        Must take about the same time whether the user exists or not, compare secrets in
        constant time, and raise AuthBackendError (never return None) when the backend
        itself fails, so an outage is not mistaken for a bad password.
        """
        ...
