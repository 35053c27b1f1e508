"""Who is calling /v2/ and what they may do: the one authorization gate of the API.

Callers authenticate with HTTP Basic against local accounts, or not at all. The decision itself
is :func:`registry.rbac.may`.
"""

from __future__ import annotations

from starlette.requests import Request

from registry.api.distribution.errors import Denied, Unauthorized
from registry.auth.basic import ANONYMOUS, BasicAuthenticator, Principal, parse_basic
from registry.db import projects
from registry.oci.names import project_of
from registry.rbac import Action, ProjectRef, may
from registry.services.errors import NameUnknown
from registry.services.project import check_repository_name

CHALLENGE = 'Basic realm="Berth"'


async def principal_of(request: Request) -> Principal:
    """The caller; Unauthorized when credentials are offered but wrong."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    credentials = parse_basic(header)
    # containers/image answers a Basic challenge with empty credentials when it has none.
    if not header or credentials == ("", ""):
        principal = ANONYMOUS
    else:
        authenticator: BasicAuthenticator = request.state.authenticator
        found = await authenticator.authenticate(*credentials) if credentials else None
        if found is None:
            raise Unauthorized("invalid credentials")
        principal = found
    request.state.principal = principal
    return principal


async def authorize(request: Request, repository: str, action: Action) -> ProjectRef:
    """The project of ``repository`` when the caller may ``action`` on it.

    A project that does not exist is reported only to callers who could see it anyway, so
    names cannot be probed anonymously.
    """
    check_repository_name(repository)
    principal = await principal_of(request)
    row = await projects.get_by_name(request.state.backends.db, project_of(repository))
    if row is None:
        if principal.sysadmin:
            raise NameUnknown(
                f"project {project_of(repository)!r} does not exist", {"name": repository}
            )
        raise _refusal(principal)
    project = ProjectRef(id=row["id"], name=row["name"], public=row["public"])
    if not may(principal, project, action):
        raise _refusal(principal)
    return project


async def may_pull(request: Request, project: ProjectRef) -> bool:
    return may(await principal_of(request), project, Action.PULL)


def _refusal(principal: Principal) -> Unauthorized | Denied:
    if principal.anonymous:
        return Unauthorized("authentication required")
    return Denied()
