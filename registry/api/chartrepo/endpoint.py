"""The wrapper every chart repository handler goes through: who calls (Basic credentials, as
Helm and the cm-push plugin send them, the portal's session, or anonymous), which project,
and errors rendered ChartMuseum's way."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from registry.api.chartrepo.errors import ChartRepoError, Unauthorized, render, status_of
from registry.api.v2_0.errors import HarborError
from registry.api.v2_0.security import principal_of as management_principal
from registry.auth.principal import Principal
from registry.rbac import ProjectRef
from registry.services.availability import as_unavailable
from registry.services.context import Backends
from registry.services.errors import NotPermitted, RegistryError
from registry.services.project import find_project

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Berth"'}


def backends(request: Request) -> Backends:
    b: Backends = request.state.backends
    return b


def chart_endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Unauthorized as exc:
            return render(exc.status, exc.message, _CHALLENGE)
        except ChartRepoError as exc:
            return render(exc.status, exc.message)
        except NotPermitted as exc:
            if (await principal_of(request)).anonymous:
                return render(401, "authentication required", _CHALLENGE)
            return render(403, exc.message)
        except RegistryError as exc:
            return render(status_of(exc), exc.message)
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception as exc:
            unavailable = as_unavailable(exc)
            if unavailable is not None:
                log.warning("%s %s: %s (%r)", request.method, request.url.path, unavailable, exc)
                return render(503, unavailable.message, {"Retry-After": "5"})
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return render(500, "internal server error")

    return wrapped


async def principal_of(request: Request) -> Principal:
    """Who calls, as the management API decides it (Basic credentials of users and robots, the
    portal's session, or anonymous), its refusals said ChartMuseum's way."""
    try:
        return await management_principal(request)
    except HarborError as exc:
        if exc.status == 401:
            raise Unauthorized(exc.message) from None
        raise ChartRepoError(exc.message, exc.status) from None


async def project_of(request: Request) -> ProjectRef:
    name = str(request.path_params["project"])
    project = await find_project(backends(request).db, name, by_name=True)
    if project is None:
        raise ChartRepoError(f"project {name} not found", 404)
    return project
