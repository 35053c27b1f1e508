"""Who calls the management API, and the permission checks every route makes.

Callers authenticate with Basic credentials (users and robots, any auth mode), with the
portal's session cookie (unsafe methods must echo its CSRF token), or come anonymously; a
project is addressed by name or id, as in Harbor (``X-Is-Resource-Name``).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from registry.api.portal_auth import note_session
from registry.api.v2_0.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    login_refused,
)
from registry.auth import session
from registry.auth.basic import parse_basic
from registry.auth.principal import ANONYMOUS, Principal
from registry.rbac import Action, ProjectRef
from registry.services import access
from registry.services.context import Backends
from registry.services.login import LoginRefused, log_in
from registry.services.project import find_project as lookup_project


def backends(request: Request) -> Backends:
    b: Backends = request.state.backends
    return b


async def principal_of(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "api_principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    principal = ANONYMOUS
    if header:
        credentials = parse_basic(header)
        if credentials is None:
            raise Unauthorized("unsupported authorization scheme")
        try:
            principal = await log_in(backends(request), *credentials)
        except LoginRefused as refused:
            raise login_refused(refused) from None
    elif session_id := request.cookies.get(session.COOKIE):
        principal = await _session_principal(request, session_id)
    request.state.api_principal = principal
    return principal


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _session_principal(request: Request, session_id: str) -> Principal:
    """Who the session cookie names; anonymous when it names no live session."""
    b = backends(request)
    found = await session.load(b.redis, b.identity, session_id)
    note_session(request, found.csrf_token if found is not None else None)
    if found is None:
        return ANONYMOUS
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(session.CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), found.csrf_token.encode()):
            raise Forbidden("CSRF token invalid")
    return found.principal


async def authenticated(request: Request) -> Principal:
    principal = await principal_of(request)
    if principal.anonymous:
        raise Unauthorized("authentication required")
    return principal


async def sysadmin(request: Request) -> Principal:
    principal = await authenticated(request)
    if not principal.sysadmin:
        raise Forbidden("only system administrators may do this")
    return principal


async def find_project(request: Request, name_or_id: str) -> ProjectRef | None:
    by_name = request.headers.get("x-is-resource-name", "").lower() == "true"
    return await lookup_project(backends(request).db, name_or_id, by_name=by_name)


async def project_for(
    request: Request, action: Action, param: str = "project_name_or_id"
) -> ProjectRef:
    """The project named in the path, when the caller may ``action`` in it."""
    project = await find_project(request, request.path_params[param])
    if project is None:
        raise NotFound(f"project {request.path_params[param]} not found")
    await require(request, project, action)
    return project


async def require(
    request: Request, project: ProjectRef, action: Action, repository: str | None = None
) -> Principal:
    """The caller, when it may ``action`` in the project (in that one repository, if named:
    robot permissions may be limited to some repositories)."""
    principal = await principal_of(request)
    if not await access.may(backends(request).db, principal, project, action, repository):
        if principal.anonymous:
            raise Unauthorized("authentication required")
        raise Forbidden(f"not allowed to {action.value} in project {project.name}")
    return principal
