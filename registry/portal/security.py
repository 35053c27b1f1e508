"""Who is looking at a page, and the permission checks pages make: the same rules as the API
(``registry.services.access`` over ``registry.rbac``), asked with the portal's session.

The session is the one ``/c/login`` starts (``registry.auth.session``): a page signed in
through the portal is signed in for the API too, and the other way round.
"""

from __future__ import annotations

from starlette.requests import Request

from registry.auth import session
from registry.auth.principal import ANONYMOUS, Principal
from registry.portal.errors import LoginRequired, PageForbidden, PageNotFound
from registry.rbac import Action, ProjectRef
from registry.services import access
from registry.services.context import Backends
from registry.services.project import find_project


def backends(request: Request) -> Backends:
    b: Backends = request.state.backends
    return b


async def viewer(request: Request) -> Principal:
    """The signed-in principal, or anonymous. Looked up once per request."""
    cached: Principal | None = getattr(request.state, "portal_viewer", None)
    if cached is not None:
        return cached
    b = backends(request)
    found = await session.load(b.redis, b.identity, request.cookies.get(session.COOKIE))
    principal = found.principal if found is not None else ANONYMOUS
    request.state.portal_viewer = principal
    request.state.portal_csrf = found.csrf_token if found is not None else ""
    return principal


def csrf_token(request: Request) -> str:
    """The session's CSRF token (after :func:`viewer`), for the forms of the page."""
    token: str = getattr(request.state, "portal_csrf", "")
    return token


async def signed_in(request: Request) -> Principal:
    principal = await viewer(request)
    if principal.anonymous:
        raise LoginRequired()
    return principal


async def sysadmin(request: Request) -> Principal:
    principal = await signed_in(request)
    if not principal.sysadmin:
        raise PageForbidden("Only system administrators may open this page.")
    return principal


async def project_page(request: Request, action: Action = Action.READ_PROJECT) -> ProjectRef:
    """The project named in the path, when the viewer may ``action`` in it. Anonymous viewers
    see public projects; a private project is "not found" to those who may not read it, as in
    the API."""
    principal = await viewer(request)
    name = str(request.path_params["project"])
    project = await find_project(backends(request).db, name, by_name=True)
    if project is None or not await access.may(
        backends(request).db, principal, project, Action.READ_PROJECT
    ):
        if principal.anonymous:
            raise LoginRequired()
        raise PageNotFound(f"Project {name} was not found.")
    await require(request, project, action)
    return project


async def require(request: Request, project: ProjectRef, action: Action) -> None:
    principal = await viewer(request)
    if not await access.may(backends(request).db, principal, project, action):
        if principal.anonymous:
            raise LoginRequired()
        raise PageForbidden(f"You may not {action.value.replace('-', ' ')} in {project.name}.")


async def allowed(request: Request, project: ProjectRef) -> frozenset[str]:
    """What the viewer may do in the project, for templates to show only permitted controls."""
    actions = await access.actions_in(backends(request).db, await viewer(request), project)
    return frozenset(a.value for a in actions)
