"""Labels, global (scope ``g``) or owned by one project (scope ``p``), and attaching them to
artifacts. A project label goes only on artifacts of its project."""

from __future__ import annotations

import asyncpg

from registry.auth.principal import Principal
from registry.db import labels
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, LabelUnknown, ResourceExists, ResourceUnknown

GLOBAL, PROJECT = "g", "p"
MAX_NAME_LENGTH = 128
MAX_TEXT_LENGTH = 1024


def check_scope(scope: object) -> str:
    if scope not in (GLOBAL, PROJECT):
        raise InvalidRequest("scope must be g (global) or p (project)")
    assert isinstance(scope, str)
    return scope


async def list_labels(
    b: Backends, scope: str, project_id: int | None, name: str | None, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await labels.list_labels(b.db, scope, project_id, name, query)


async def get_label(b: Backends, label_id: int) -> asyncpg.Record:
    row = await labels.get(b.db, label_id)
    if row is None:
        raise LabelUnknown()
    return row


async def create_label(
    b: Backends,
    actor: Principal,
    *,
    name: str,
    description: str,
    color: str,
    scope: str,
    project_id: int | None,
) -> int:
    label_id = await labels.create(
        b.db,
        name=name,
        description=description,
        color=color,
        scope=check_scope(scope),
        project_id=project_id,
    )
    if label_id is None:
        raise ResourceExists(f"label {name} already exists")
    await b.audit.record(AuditEvent("create", "label", name, actor.name, project_id))
    return label_id


async def update_label(
    b: Backends, actor: Principal, label: asyncpg.Record, *, name: str, description: str, color: str
) -> None:
    """Scope and project are fixed at creation."""
    updated = await labels.update(
        b.db, label["id"], name=name, description=description, color=color
    )
    if updated is None:
        raise ResourceExists(f"label {name} already exists")
    if not updated:
        raise LabelUnknown()
    await b.audit.record(AuditEvent("update", "label", name, actor.name, label["project_id"]))


async def delete_label(b: Backends, actor: Principal, label: asyncpg.Record) -> None:
    """The label and every attachment of it."""
    if not await labels.delete(b.db, label["id"]):
        raise LabelUnknown()
    await b.audit.record(
        AuditEvent("delete", "label", label["name"], actor.name, label["project_id"])
    )


async def attach_label(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    repository: str,
    artifact: asyncpg.Record,
    label_id: int,
) -> None:
    label = await labels.get(b.db, label_id)
    if label is None:
        raise ResourceUnknown(f"label {label_id} not found")
    if label["scope"] == PROJECT and label["project_id"] != project.id:
        raise InvalidRequest(f"label {label['name']} belongs to another project")
    if not await labels.attach(b.db, artifact["id"], label_id):
        raise ResourceExists(f"label {label['name']} is already on the artifact")
    await b.audit.record(
        AuditEvent(
            "create",
            "artifact_label",
            f"{repository}@{artifact['digest']}:{label['name']}",
            actor.name,
            project.id,
        )
    )


async def detach_label(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    repository: str,
    artifact: asyncpg.Record,
    label_id: int,
) -> None:
    label = await labels.get(b.db, label_id)
    if label is None or not await labels.detach(b.db, artifact["id"], label_id):
        raise ResourceUnknown(f"label {label_id} is not on the artifact")
    await b.audit.record(
        AuditEvent(
            "delete",
            "artifact_label",
            f"{repository}@{artifact['digest']}:{label['name']}",
            actor.name,
            project.id,
        )
    )
