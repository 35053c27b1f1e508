"""The authorization gate of /v2/.

Registry clients present Bearer tokens from the token service: signed by this registry, for
this service, still valid, granting the action on the repository (or ``registry:catalog:*``).
Anything else gets a 401 with a challenge naming the scope to ask for, so clients fetch a
fitting token and retry. A token issued before its project was (re)created is refused, as
Harbor does. Like Harbor, Basic credentials are accepted too; the caller's roles then decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from registry import rbac
from registry.api.distribution.errors import Denied, TooManyRequests, Unauthorized
from registry.auth.basic import parse_basic
from registry.auth.principal import ANONYMOUS, Principal
from registry.oci.names import project_of
from registry.rbac import Action, ProjectRef
from registry.services import access
from registry.services.context import Backends
from registry.services.errors import NameInvalid, NameUnknown, ServiceUnavailable
from registry.services.login import THROTTLED, UNAVAILABLE, LoginRefused, log_in
from registry.services.project import check_repository_name, find_for_pull
from registry.services.read_cache import ProjectFacts
from registry.token import jwt

# The token actions each registry action needs, and the scope a challenge asks for.
_TOKEN_ACTION = {Action.PULL: "pull", Action.PUSH: "push", Action.DELETE: "delete"}
_CHALLENGE_ACTIONS = {Action.PULL: "pull", Action.PUSH: "pull,push", Action.DELETE: "delete"}


class Challenge(Unauthorized):
    """authentication required"""

    def __init__(self, message: str, scope: str | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope
        self.error = error

    def header(self, request: Request) -> str:
        b: Backends = request.state.backends
        realm = token_realm(request)
        parts = [f'Bearer realm="{realm}"', f'service="{b.settings.token.service}"']
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        if self.error:
            parts.append(f'error="{self.error}"')
        return ",".join(parts)


def token_realm(request: Request) -> str:
    b: Backends = request.state.backends
    if b.settings.external_url:
        return b.settings.external_url.rstrip("/") + "/service/token"
    # uvicorn has already applied X-Forwarded-Proto from trusted proxies to the scheme, and
    # HostGuardMiddleware has replaced the Host (and dropped X-Forwarded-Host) of requests
    # that did not come through one: what is left here may be believed.
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    host = host or request.headers.get("host") or f"{b.settings.host}:{b.settings.port}"
    return f"{request.url.scheme}://{host}/service/token"


def _bearer(request: Request, scope: str | None) -> jwt.Claims | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    b: Backends = request.state.backends
    try:
        return b.verified_tokens.verify(
            b.keys,
            token.strip(),
            issuer=b.settings.token.issuer,
            audience=b.settings.token.service,
        )
    except jwt.InvalidTokenError:
        raise Challenge("invalid token", scope, "invalid_token") from None


async def _basic(request: Request, scope: str | None) -> Principal | None:
    """Harbor also takes Basic credentials on /v2/ (curl, oras-py, scripts): the caller's
    rights then come from its roles directly instead of from a token."""
    credentials = parse_basic(request.headers.get("authorization"))
    if credentials is None:
        return None
    b: Backends = request.state.backends
    try:
        return await log_in(b, *credentials)
    except LoginRefused as refused:
        if refused.status == THROTTLED:
            raise TooManyRequests(refused.message) from None
        if refused.status == UNAVAILABLE:
            raise ServiceUnavailable(refused.message) from None
        raise Challenge(refused.message, scope) from None


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified token, or a principal that logged in with Basic credentials."""

    claims: jwt.Claims | None = None
    principal: Principal | None = None


async def caller_of(request: Request, scope: str | None = None) -> Caller:
    """Who sent the request; a Challenge when nothing valid was presented."""
    cached: Caller | None = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    claims = _bearer(request, scope)
    principal = None if claims is not None else await _basic(request, scope)
    if claims is None and principal is None:
        raise Challenge("authentication required", scope)
    caller = Caller(claims, principal)
    request.state.caller = caller
    return caller


async def _project(request: Request, repository: str) -> ProjectRef | None:
    project, facts = await find_for_pull(request.state.backends, project_of(repository))
    if project is not None and facts is not None:
        known: dict[str, ProjectFacts] = getattr(request.state, "read_facts", {})
        known[project.name] = facts
        request.state.read_facts = known
    return project


def facts_of(request: Request, project: ProjectRef) -> ProjectFacts | None:
    """What this process knows of ``project``, checked fresh when the request was authorized
    (None when it was not, or the read cache could not be used)."""
    known: dict[str, ProjectFacts] = getattr(request.state, "read_facts", {})
    return known.get(project.name)


def _issued_for(claims: jwt.Claims, project: ProjectRef) -> bool:
    """Whether the token was granted for this very project, not one deleted since and made
    again under the same name: tokens name the id each project had when they were issued."""
    if claims.projects is None:
        # Issued before tokens named project ids: compare times, as well as seconds allow.
        assert project.created_at is not None
        return project.created_at.timestamp() <= claims.issued_at + jwt.LEEWAY_SECONDS
    return claims.projects.get(project.name) == project.id


async def authorize(request: Request, repository: str, action: Action) -> ProjectRef:
    """The project of ``repository`` when the caller may ``action`` on it."""
    check_repository_name(repository)
    scope = f"repository:{repository}:{_CHALLENGE_ACTIONS[action]}"
    caller = await caller_of(request, scope)
    b: Backends = request.state.backends
    if caller.claims is not None:
        if not caller.claims.allows("repository", repository, _TOKEN_ACTION[action]):
            raise Challenge("insufficient scope", scope, "insufficient_scope")
        project = await _project(request, repository)
        if project is None:
            raise NameUnknown(
                f"project {project_of(repository)!r} does not exist", {"name": repository}
            )
        if not _issued_for(caller.claims, project):
            raise Challenge("token predates the project", scope, "invalid_token")
        if not caller.claims.subject and not project.public:
            # An anonymous token was granted because the project was public: no longer.
            raise Challenge("the project is not public", scope, "insufficient_scope")
        return project
    assert caller.principal is not None
    project = await _project(request, repository)
    if project is None:
        if caller.principal.sysadmin:
            raise NameUnknown(
                f"project {project_of(repository)!r} does not exist", {"name": repository}
            )
        raise Denied()
    if not await access.may(b.db, caller.principal, project, action, repository):
        raise Denied()
    return project


async def authorize_mount_source(request: Request, target: str, source: str) -> ProjectRef | None:
    """The project of ``source`` when the caller may pull from it to mount into ``target``;
    None to fall back to an ordinary upload.

    A token that says nothing about ``source`` gets a 401 whose challenge names both scopes,
    as Distribution and Harbor answer, so the client comes back with a token that can mount.
    One that was asked for ``source`` and refused it, and Basic credentials without pull
    there, fall back: asking again would get nothing more.
    """
    try:
        return await authorize(request, source, Action.PULL)
    except Challenge as refused:
        caller = await caller_of(request)
        if (
            refused.error == "insufficient_scope"
            and caller.claims is not None
            and ("repository", source) not in caller.claims.access
        ):
            raise Challenge(
                "the token does not allow pulling from the mount source",
                f"repository:{target}:pull,push repository:{source}:pull",
                "insufficient_scope",
            ) from None
        return None
    except (Denied, NameInvalid, NameUnknown):
        return None


async def may_pull(request: Request, project: ProjectRef) -> bool:
    """Whether the caller may pull from ``project``, beyond its token's own scopes (an
    automatic mount names no source, so no scope could be asked for it)."""
    caller = await caller_of(request)
    b: Backends = request.state.backends
    principal = caller.principal
    if caller.claims is not None:
        if _issued_for(caller.claims, project) and any(
            kind == "repository" and project_of(name) == project.name and ("pull" in a or "*" in a)
            for (kind, name), a in caller.claims.access.items()
        ):
            return True
        subject = caller.claims.subject
        principal = await b.identity.principal_by_name(subject) if subject else ANONYMOUS
    return principal is not None and await access.may(b.db, principal, project, Action.PULL)


async def may_list_catalog(request: Request) -> bool:
    caller = await caller_of(request, "registry:catalog:*")
    if caller.claims is not None:
        return caller.claims.allows("registry", "catalog", "*")
    return caller.principal is not None and rbac.may_list_catalog(caller.principal)


async def catalog_reader(request: Request) -> Principal | None:
    """Who lists the catalog (the account a token was issued to), for what it may see."""
    caller = await caller_of(request)
    if caller.claims is None:
        return caller.principal
    b: Backends = request.state.backends
    subject = caller.claims.subject
    return await b.identity.principal_by_name(subject) if subject else None


async def caller_name(request: Request) -> str:
    """Who to name in the audit log."""
    caller = await caller_of(request)
    if caller.claims is not None:
        return caller.claims.subject or "anonymous"
    return caller.principal.name if caller.principal is not None else "anonymous"
