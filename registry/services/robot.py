"""Robot accounts (Harbor's v2 model): system or project level, with explicit permissions."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from registry.auth.password import hash_password
from registry.auth.principal import Principal
from registry.db import robots
from registry.query import ListQuery, QueryInvalid
from registry.rbac import ROBOT_ACCESS, Action, ProjectRef
from registry.services.access import require
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    NotPermitted,
    ResourceExists,
    ResourceUnknown,
    RobotUnknown,
)
from registry.services.identity import ROBOT_PREFIX
from registry.services.immutability import check_pattern
from registry.services.project import find_by_id, find_project
from registry.services.user import check_password

# Matched in full (fullmatch): "$" would let a trailing newline through.
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")

MAX_DURATION_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class RobotSpec:
    """What a caller asks for when creating a robot account."""

    name: str
    description: str = ""
    level: str = "system"
    duration: int = -1
    disabled: bool = False
    permissions: object = ()  # Harbor's permissions list, checked by the service
    secret: str | None = None  # generated when None


@dataclass(frozen=True, slots=True)
class CreatedRobot:
    id: int
    full_name: str  # with the robot$ prefix
    secret: str  # shown once, never stored
    created_at: datetime
    expires_at: datetime | None


def generate_secret() -> str:
    # Harbor's secret rule (upper, lower, digit) holds for every generated secret.
    while True:
        secret = secrets.token_urlsafe(24)
        if (
            any(c.isupper() for c in secret)
            and any(c.islower() for c in secret)
            and any(c.isdigit() for c in secret)
        ):
            return secret


def check_permissions(value: object) -> list[dict[str, Any]]:
    """Harbor's permission list, every item a kind "project" grant of ``ROBOT_ACCESS`` pairs."""
    if not isinstance(value, list | tuple):
        raise InvalidRequest("permissions must be a list")
    clean = []
    for item in value:
        if not isinstance(item, dict) or item.get("kind", "project") != "project":
            raise InvalidRequest('each permission needs kind "project"')
        namespace = item.get("namespace")
        access = item.get("access")
        if not isinstance(namespace, str) or not namespace or not isinstance(access, list):
            raise InvalidRequest("each permission needs a namespace and an access list")
        clean.append({"kind": "project", "namespace": namespace, "access": _access(access)})
    return clean


def _access(access: list[object]) -> list[dict[str, str]]:
    entries = []
    for entry in access:
        if not isinstance(entry, dict):
            raise InvalidRequest("access entries are objects")
        resource, action = entry.get("resource"), entry.get("action")
        if not isinstance(resource, str) or not isinstance(action, str):
            raise InvalidRequest("resource and action are strings")
        if (resource, action) not in ROBOT_ACCESS:
            raise InvalidRequest(f"unsupported robot permission {resource}:{action}")
        effect = entry.get("effect", "allow")
        if effect == "deny":
            # A robot holds exactly what it is given: there is nothing for a deny to take
            # away, and silently keeping one would suggest it does something.
            raise InvalidRequest(
                f"deny permissions are not supported ({resource}:{action}): "
                "leave the item out instead"
            )
        if effect != "allow":
            raise InvalidRequest("effect must be allow")
        entries.append({"resource": resource, "action": action, "effect": effect})
    return entries


def expiry(duration: int) -> datetime | None:
    if duration == -1:
        return None
    if not 0 < duration <= MAX_DURATION_DAYS:
        raise InvalidRequest(
            f"duration is -1 (never expires) or a number of days up to {MAX_DURATION_DAYS}"
        )
    return datetime.now(UTC) + timedelta(days=duration)


async def _resolve_namespaces(
    b: Backends, permissions: list[dict[str, Any]], by_name: bool
) -> list[dict[str, Any]]:
    """Each permission with its project looked up once, now: stored by id (and the project's
    name for display), so the robot is later checked against exactly that project."""
    resolved = []
    for permission in permissions:
        namespace = permission["namespace"]
        if namespace == "*":
            resolved.append({**permission, "project_id": None})
            continue
        # "team/app-*": only the repositories of team whose path below it matches app-*.
        project_part, _, pattern = namespace.partition("/")
        project = await find_project(b.db, project_part, by_name=by_name)
        if project is None:
            raise ResourceUnknown(f"project {project_part} not found")
        if pattern:
            try:
                check_pattern(pattern)
            except ValueError as exc:
                raise InvalidRequest(f"invalid repository pattern {pattern!r}: {exc}") from None
        resolved.append(
            {
                **permission,
                "namespace": f"{project.name}/{pattern}" if pattern else project.name,
                "project_id": project.id,
                "repository_pattern": pattern or None,
            }
        )
    return resolved


async def _authorize_permissions(
    b: Backends, actor: Principal, level: str, permissions: list[dict[str, Any]], by_name: bool
) -> tuple[ProjectRef | None, list[dict[str, Any]]]:
    """Check the actor may hand out these permissions; the project of a project robot, and
    the permissions with their projects resolved."""
    if level == "system":
        if not actor.sysadmin:
            raise NotPermitted("only system administrators create system robot accounts")
        return None, await _resolve_namespaces(b, permissions, by_name)
    if len(permissions) != 1 or permissions[0]["namespace"] == "*":
        raise InvalidRequest("a project robot account has permissions in exactly one project")
    resolved = await _resolve_namespaces(b, permissions, by_name)
    project = await find_by_id(b.db, resolved[0]["project_id"])
    if project is None:
        raise ResourceUnknown(f"project {permissions[0]['namespace']} not found")
    await require(b.db, actor, project, Action.MANAGE_ROBOTS)
    return project, resolved


async def create_robot(
    b: Backends, actor: Principal, spec: RobotSpec, *, by_name: bool = False
) -> CreatedRobot:
    """``by_name``: permission namespaces made of digits are names, not ids."""
    if not _NAME.fullmatch(spec.name):
        raise InvalidRequest("robot names are lower-case letters and digits, separated by . _ -")
    if spec.level not in ("system", "project"):
        raise InvalidRequest("level must be system or project")
    project, permissions = await _authorize_permissions(
        b, actor, spec.level, check_permissions(spec.permissions), by_name
    )
    project_id = project.id if project is not None else None
    full_name = f"{project.name}+{spec.name}" if project is not None else spec.name
    secret = spec.secret or generate_secret()
    check_password(secret)
    async with b.db.acquire() as conn, conn.transaction():
        robot_id = await robots.create(
            conn,
            name=full_name,
            description=spec.description,
            level=spec.level,
            project_id=project_id,
            secret_hash=await asyncio.to_thread(hash_password, secret),
            disabled=spec.disabled,
            duration=spec.duration,
            expires_at=expiry(spec.duration),
            creator=actor.name,
        )
        if robot_id is None:
            raise ResourceExists(f"robot account {ROBOT_PREFIX}{full_name} already exists")
        await robots.set_permissions(conn, robot_id, permissions)
    row = await robots.get(b.db, robot_id)
    assert row is not None
    await b.audit.record(
        AuditEvent("create", "robot", ROBOT_PREFIX + full_name, actor.name, project_id)
    )
    return CreatedRobot(
        robot_id, ROBOT_PREFIX + full_name, secret, row["created_at"], row["expires_at"]
    )


async def robot_for(
    b: Backends, actor: Principal, robot_id: int, *, manage: bool
) -> asyncpg.Record:
    """The robot, when the actor may read it (or, with ``manage``, change it)."""
    row = await robots.get(b.db, robot_id)
    if row is None:
        raise RobotUnknown()
    if actor.sysadmin:
        return row
    if row["level"] == "system" or row["project_id"] is None:
        raise NotPermitted("only system administrators manage system robot accounts")
    project = await find_by_id(b.db, row["project_id"])
    if project is None:
        raise RobotUnknown()
    await require(b.db, actor, project, Action.MANAGE_ROBOTS if manage else Action.READ_ROBOTS)
    return row


async def permissions_of(b: Backends, robot_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    return await robots.permissions(b.db, robot_ids)


async def list_robots(
    b: Backends, actor: Principal, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """Admins list any robots; others only those of one project they may read robots in
    (``ProjectID=<id>``)."""
    for key in ("Level", "ProjectID", "name"):
        query.single(key)  # each takes exactly one value
    project_text = query.single("ProjectID")
    project_id = None
    if project_text is not None:
        if not (project_text.isascii() and project_text.isdigit()) or not (
            0 < int(project_text) < 2**63
        ):
            raise QueryInvalid("ProjectID must be a project id")
        project_id = int(project_text)
    if not actor.sysadmin:
        if project_id is None:
            raise NotPermitted(
                "list the robot accounts of one project: q=Level=project,ProjectID=<id>"
            )
        project = await find_by_id(b.db, project_id)
        if project is None:
            raise ResourceUnknown("project not found")
        await require(b.db, actor, project, Action.READ_ROBOTS)
    return await robots.list_robots(b.db, query.without_sort())


async def update_robot(
    b: Backends,
    actor: Principal,
    robot_id: int,
    *,
    description: str | None,
    disabled: bool | None,
    duration: int | None,
    permissions: object | None,
    by_name: bool = False,
) -> None:
    """Change what is given (None keeps it); a project robot stays in its project."""
    row = await robot_for(b, actor, robot_id, manage=True)
    duration = row["duration"] if duration is None else duration
    async with b.db.acquire() as conn, conn.transaction():
        if permissions is not None:
            project, resolved = await _authorize_permissions(
                b, actor, row["level"], check_permissions(permissions), by_name
            )
            project_id = project.id if project is not None else None
            if row["level"] == "project" and project_id != row["project_id"]:
                raise InvalidRequest("a project robot account stays in its project")
            await robots.set_permissions(conn, row["id"], resolved)
        await robots.update(
            conn,
            row["id"],
            description=description or row["description"],
            disabled=row["disabled"] if disabled is None else disabled,
            duration=duration,
            expires_at=expiry(duration) if duration != row["duration"] else row["expires_at"],
        )
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("update", "robot", ROBOT_PREFIX + row["name"], actor.name, row["project_id"])
    )


async def refresh_secret(b: Backends, actor: Principal, robot_id: int, secret: str | None) -> str:
    """Give the robot a new secret (generated when None); the old one stops working."""
    row = await robot_for(b, actor, robot_id, manage=True)
    secret = secret or generate_secret()
    check_password(secret)
    await robots.set_secret(b.db, row["id"], await asyncio.to_thread(hash_password, secret))
    await b.identity.changed()
    await b.audit.record(
        AuditEvent(
            "update", "robot", ROBOT_PREFIX + row["name"] + ":secret", actor.name, row["project_id"]
        )
    )
    return secret


async def delete_robot(b: Backends, actor: Principal, robot_id: int) -> None:
    row = await robot_for(b, actor, robot_id, manage=True)
    await robots.delete(b.db, row["id"])
    await b.identity.changed()
    await b.audit.record(
        AuditEvent("delete", "robot", ROBOT_PREFIX + row["name"], actor.name, row["project_id"])
    )
