"""The shape every administration form shares: the poster must be a system administrator and
the form's CSRF token must check out; the action then either sends the browser on (a URL,
with its notice) or answers a page itself; a domain error shows the page again with the
message on its form, under the error's status."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.auth.principal import Principal
from registry.portal.endpoint import Handler, page, see_other
from registry.portal.errors import status_of
from registry.portal.forms import Form, signed_form
from registry.portal.security import sysadmin
from registry.services.errors import RegistryError

# Shows the form's page again: (request, the message, its status, the form as posted).
Redisplay = Callable[[Request, str, int, Form], Awaitable[Response]]
# Does what the form asks: where to go next, or a page of its own.
Action = Callable[[Request, Principal, Form], Awaitable[str | Response]]


def with_notice(url: str, text: str) -> str:
    return f"{url}?notice={quote(text)}"


def admin_form(redisplay: Redisplay) -> Callable[[Action], Handler]:
    def decorate(action: Action) -> Handler:
        @page
        @functools.wraps(action)
        async def handler(request: Request) -> Response:
            form = await signed_form(request)
            principal = await sysadmin(request)
            try:
                outcome = await action(request, principal, form)
            except RegistryError as exc:
                return await redisplay(request, exc.message, status_of(exc), form)
            return see_other(outcome) if isinstance(outcome, str) else outcome

        return handler

    return decorate
