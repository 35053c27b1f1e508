"""What a portal page can end in, and how each domain error shows on a page."""

from __future__ import annotations

from registry.services import errors


class PageError(Exception):
    """A page answered with a status and a message meant for the person reading it."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PageForbidden(PageError):
    status = 403


class PageNotFound(PageError):
    status = 404


class PageUnavailable(PageError):
    status = 503


class LoginRequired(Exception):
    """The page needs a signed-in user: the browser is sent to the login page."""


# Domain error → the status a page shows it with; anything else a form rejects is a 400.
_STATUS: dict[type[errors.RegistryError], int] = {
    errors.NotPermitted: 403,
    errors.ResourceUnknown: 404,
    errors.NameUnknown: 404,
    errors.ManifestUnknown: 404,
    errors.ResourceExists: 409,
    errors.ProjectExists: 409,
    errors.TagExists: 409,
    errors.ServiceUnavailable: 503,
    errors.BackendUnavailable: 503,
    errors.LoginThrottled: 429,
}


def status_of(exc: errors.RegistryError) -> int:
    for kind in type(exc).__mro__:
        if kind in _STATUS:
            return _STATUS[kind]
    return 400
