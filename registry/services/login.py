"""Logging in with a name and a password, for every face (token service, /v2/ Basic, the
Harbor API's Basic, /c/login and the portal's login page).

This is the one place that decides what a refused login tells the client: wrong credentials,
a throttled account and an unreachable identity backend each get one status and one fixed
message. None of them says which part of the credentials was wrong, and the identity
backend's own error text (an LDAP server's, say) never reaches the client. Each face only
renders the refusal in its own format (the portal in words of its own).
"""

from __future__ import annotations

from registry.auth.principal import Principal
from registry.services.context import Backends
from registry.services.errors import BackendUnavailable, LoginThrottled


class LoginRefused(Exception):
    """A login that did not succeed: the status and message every face answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


WRONG_CREDENTIALS = 401
THROTTLED = 429
UNAVAILABLE = 503


async def log_in(b: Backends, username: str, password: str) -> Principal:
    """The principal these credentials name; LoginRefused otherwise."""
    try:
        principal = await b.identity.login(username, password)
    except LoginThrottled:
        raise LoginRefused(THROTTLED, "too many failed logins, retry later") from None
    except BackendUnavailable:
        raise LoginRefused(UNAVAILABLE, "the identity backend is unavailable") from None
    if principal is None:
        raise LoginRefused(WRONG_CREDENTIALS, "invalid user name or password")
    return principal
