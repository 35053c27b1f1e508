"""Projects: finding them (by name or id, and the one a repository name belongs to), and
creating, changing and deleting them."""

from __future__ import annotations

import re

import asyncpg

from registry.auth.principal import Principal, PrincipalKind
from registry.db import members, projects, quotas
from registry.db.pool import Executor, Pool
from registry.oci.names import is_valid_repository, project_of
from registry.query import ListQuery
from registry.rbac import Action, ProjectRef, Role, project_scope
from registry.services import read_cache
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    NameInvalid,
    NameUnknown,
    NotPermitted,
    ProjectExists,
    ProjectInvalid,
    ProjectNotEmpty,
    ResourceUnknown,
)

# Harbor's project name rule: lower-case components joined by . _ -
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_NAME_LENGTH = 255

# Metadata keys Harbor projects carry; values are strings ("true"/"false" for flags).
METADATA_KEYS = frozenset(
    {
        "public",
        "enable_content_trust",
        "enable_content_trust_cosign",
        "prevent_vul",
        "severity",
        "auto_scan",
        "auto_sbom_generation",
        "reuse_sys_cve_allowlist",
        "retention_id",
        "proxy_speed_kb",
    }
)


_FLAGS = METADATA_KEYS - {"severity", "retention_id", "proxy_speed_kb"}


# --- finding projects ---------------------------------------------------------------------


def check_repository_name(repository: str) -> None:
    if not is_valid_repository(repository):
        raise NameInvalid(
            "invalid repository name: lower-case components separated by '/', "
            "starting with the project",
            detail={"name": repository},
        )


async def project_for(db: Pool, repository: str) -> ProjectRef:
    """The project that holds ``repository``; NameInvalid/NameUnknown otherwise."""
    check_repository_name(repository)
    row = await projects.get_by_name(db, project_of(repository))
    if row is None:
        raise NameUnknown(
            f"project {project_of(repository)!r} does not exist", {"name": repository}
        )
    return ProjectRef(id=row["id"], name=row["name"], public=row["public"])


# Project ids are BIGINT; a longer run of digits can only be a name.
_MAX_ID = 2**63 - 1


def _as_id(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


def _ref(row: asyncpg.Record | None) -> ProjectRef | None:
    if row is None:
        return None
    return ProjectRef(row["id"], row["name"], row["public"], row["created_at"])


async def find_by_id(db: Executor, project_id: int) -> ProjectRef | None:
    return _ref(await projects.get_by_id(db, project_id))


async def find_project(db: Executor, name_or_id: str, *, by_name: bool) -> ProjectRef | None:
    """As Harbor addresses projects: digits are an id unless ``by_name`` says they are a name
    (``X-Is-Resource-Name``)."""
    if not by_name and name_or_id.isascii() and name_or_id.isdigit():
        project_id = _as_id(name_or_id)
        return None if project_id is None else await find_by_id(db, project_id)
    return _ref(await projects.get_by_name(db, name_or_id))


async def find_for_pull(
    b: Backends, name: str
) -> tuple[ProjectRef | None, read_cache.ProjectFacts | None]:
    """The project named ``name`` and what this process knows of it (None when the read
    cache cannot be used); the project comes from the cache when it holds it."""
    facts = await b.read_cache.facts(b.redis, name)
    if facts is not None and facts.project is not None:
        return facts.project, facts
    project = await find_project(b.db, name, by_name=True)
    if facts is not None and project is not None:
        facts.project = project
    return project, facts


# --- creating, changing and deleting projects -------------------------------------------------


def check_metadata(metadata: dict[str, object]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in metadata.items():
        if key not in METADATA_KEYS:
            raise ProjectInvalid(f"unknown project metadata {key!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str):
            raise ProjectInvalid(f"metadata {key} must be a string")
        if key in (
            "public",
            "enable_content_trust",
            "prevent_vul",
            "auto_scan",
            "reuse_sys_cve_allowlist",
            "auto_sbom_generation",
            "enable_content_trust_cosign",
        ):
            if value.lower() not in ("true", "false"):
                raise ProjectInvalid(f'metadata {key} must be "true" or "false"')
            value = value.lower()
        clean[key] = value
    return clean


async def check_may_create(b: Backends, actor: Principal) -> None:
    """Signed-in users create projects unless the configuration keeps that to admins; robots
    never do."""
    if actor.anonymous:
        raise NotPermitted("authentication required")
    config = await b.config.get()
    if config["project_creation_restriction"] == "adminonly" and not actor.sysadmin:
        raise NotPermitted("only system administrators may create projects")
    if actor.kind is PrincipalKind.ROBOT and not actor.sysadmin:
        raise NotPermitted("robot accounts cannot create projects")


async def create_project(
    b: Backends,
    creator: Principal,
    name: str,
    metadata: dict[str, object],
    storage_limit: int = -1,
) -> int:
    await check_may_create(b, creator)
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ProjectInvalid(
            "project names are lower-case letters and digits, separated by '.', '_' or '-'"
        )
    meta = check_metadata(metadata)
    public = meta.get("public", "false") == "true"
    async with b.db.acquire() as conn, conn.transaction():
        project_id = await projects.create(
            conn, name, public=public, owner_id=creator.user_id, metadata=meta
        )
        if project_id is None:
            raise ProjectExists(f"project {name} already exists")
        await quotas.ensure(conn, project_id, storage_limit)
        if creator.user_id is not None:
            await members.add(conn, project_id, "u", creator.user_id, int(Role.PROJECT_ADMIN))
    await b.audit.record(AuditEvent("create", "project", name, creator.name, project_id))
    return project_id


async def update_project(
    b: Backends, actor: Principal, project: ProjectRef, metadata: dict[str, object]
) -> None:
    row = await projects.get_detail(b.db, project.id)
    if row is None:
        return
    merged = {**(row["metadata"] or {}), **check_metadata(metadata)}
    await projects.update_metadata(b.db, project.id, merged, merged.get("public") == "true")
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(AuditEvent("update", "project", project.name, actor.name, project.id))


async def delete_project(b: Backends, actor: Principal, project: ProjectRef) -> None:
    async with b.db.acquire() as conn, conn.transaction():
        held = await projects.repository_count(conn, project.id)
        if held:
            raise ProjectNotEmpty(
                f"the project {project.name} still holds {held} repositories; delete them first"
            )
        await projects.delete(conn, project.id)
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(AuditEvent("delete", "project", project.name, actor.name, project.id))


async def list_projects(
    b: Backends, actor: Principal, query: ListQuery, name: str | None = None
) -> tuple[list[asyncpg.Record], int]:
    """The projects the actor can see (:func:`registry.rbac.project_scope`)."""
    return await projects.list_projects(
        b.db, query, project_scope(actor, Action.READ_PROJECT), name
    )


async def project_detail(b: Backends, project: ProjectRef) -> asyncpg.Record:
    row = await projects.get_detail(b.db, project.id)
    if row is None:
        raise ResourceUnknown("project not found")
    return row


async def project_exists(b: Backends, name: str) -> bool:
    return await projects.get_by_name(b.db, name) is not None


async def repositories_held(b: Backends, project: ProjectRef) -> int:
    """How many repositories keep the project from being deleted."""
    return await projects.repository_count(b.db, project.id)


async def summary(b: Backends, project: ProjectRef) -> dict[str, int]:
    return await projects.summary(b.db, project.id)


async def storage_quota(b: Backends, project: ProjectRef) -> tuple[int, int]:
    """(hard limit, bytes used) of the project's storage quota; -1 is unlimited."""
    return await quotas.hard_limit(b.db, project.id), await quotas.usage(b.db, project.id)
