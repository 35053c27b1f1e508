"""/labels, and the labels on artifacts (.../artifacts/{reference}/labels).

A label is global (scope ``g``: any signed-in caller reads it, system administrators manage
it) or belongs to one project (scope ``p``: read with the right to read the project, managed
with the right to manage it). A project label is attached only to artifacts of its project.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    parse_id,
    read_object,
)
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, list_query, page_of
from registry.api.v2_0.security import (
    authenticated,
    backends,
    find_project,
    principal_of,
    require,
    sysadmin,
)
from registry.auth.principal import Principal
from registry.rbac import Action, ProjectRef
from registry.services import label
from registry.services.artifact import find_artifact
from registry.services.label import GLOBAL, MAX_NAME_LENGTH, MAX_TEXT_LENGTH, PROJECT
from registry.services.project import find_by_id


def label_json(row: asyncpg.Record) -> dict[str, Any]:
    """A label as Harbor shows it, also inside an artifact's ``labels``."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "color": row["color"],
        "scope": row["scope"],
        "project_id": row["project_id"] or 0,
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


async def _project_by_id(request: Request, project_id: int) -> ProjectRef:
    project = await find_by_id(backends(request).db, project_id)
    if project is None:
        raise NotFound(f"project {project_id} not found")
    return project


async def _authorize(
    request: Request, scope: str, project_id: int | None, *, write: bool
) -> Principal:
    """The caller, when it may read (or, with ``write``, manage) labels of that scope."""
    if scope == GLOBAL:
        return await (sysadmin(request) if write else authenticated(request))
    assert project_id is not None
    project = await _project_by_id(request, project_id)
    return await require(request, project, Action.MANAGE_LABELS if write else Action.READ_LABELS)


async def _label(request: Request, *, write: bool) -> tuple[asyncpg.Record, Principal]:
    row = await label.get_label(backends(request), int_path(request, "label_id"))
    principal = await _authorize(request, row["scope"], row["project_id"], write=write)
    return row, principal


def _text(body: dict[str, Any], name: str, default: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


def _name(body: dict[str, Any], default: str | None = None) -> str:
    name = _text(body, "name", default or "", MAX_NAME_LENGTH).strip()
    if not name:
        raise BadRequest("name is required")
    return name


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadRequest(f"{name} must be a positive integer")
    return value


@harbor_endpoint
async def list_labels(request: Request) -> Response:
    page_of(request)  # a bad page is refused before anything else, as on every list
    params = request.query_params
    project_text = params.get("project_id") or ""
    scope = label.check_scope(params.get("scope") or (PROJECT if project_text else GLOBAL))
    project_id: int | None = None
    if scope == PROJECT:
        project_id = parse_id(project_text)
        if project_id is None:
            raise BadRequest("project_id is required to list project labels")
        await _authorize(request, PROJECT, project_id, write=False)
    else:
        await _authorize(request, GLOBAL, None, write=False)
    query = list_query(request)
    rows, total = await label.list_labels(
        backends(request), scope, project_id, params.get("name"), query
    )
    return json_response([label_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def create_label(request: Request) -> Response:
    body = await read_object(request)
    scope = label.check_scope(body.get("scope") or GLOBAL)
    project_id: int | None = None
    if scope == PROJECT:
        project_id = _positive_int(body.get("project_id"), "project_id")
    elif body.get("project_id"):
        raise BadRequest("a global label belongs to no project")
    principal = await _authorize(request, scope, project_id, write=True)
    label_id = await label.create_label(
        backends(request),
        principal,
        name=_name(body),
        description=_text(body, "description", "", MAX_TEXT_LENGTH),
        color=_text(body, "color", "", MAX_NAME_LENGTH),
        scope=scope,
        project_id=project_id,
    )
    return created(f"/api/v2.0/labels/{label_id}")


@harbor_endpoint
async def get_label(request: Request) -> Response:
    row, _ = await _label(request, write=False)
    return json_response(label_json(row))


@harbor_endpoint
async def update_label(request: Request) -> Response:
    row, principal = await _label(request, write=True)
    body = await read_object(request)
    # Scope and project are fixed at creation; Harbor's portal sends them back unchanged.
    await label.update_label(
        backends(request),
        principal,
        row,
        name=_name(body, row["name"]),
        description=_text(body, "description", row["description"], MAX_TEXT_LENGTH),
        color=_text(body, "color", row["color"], MAX_NAME_LENGTH),
    )
    return Response(status_code=200)


@harbor_endpoint
async def delete_label(request: Request) -> Response:
    row, principal = await _label(request, write=True)
    await label.delete_label(backends(request), principal, row)
    return Response(status_code=200)


# --- labels on artifacts -------------------------------------------------------------------


def _repository_name(request: Request, project: ProjectRef) -> str:
    """The full repository name; Harbor clients send ``a/b`` as ``a%2Fb`` or ``a%252Fb``."""
    name = unquote(unquote(request.path_params["repository_name"]))
    if not name or name.startswith("/") or name.endswith("/") or ".." in name.split("/"):
        raise BadRequest("invalid repository name")
    return f"{project.name}/{name}"


async def resolve_artifact(
    request: Request, action: Action
) -> tuple[ProjectRef, str, asyncpg.Record]:
    """The project, full repository name and artifact the path names, when the caller may
    ``action`` in the project. ``reference`` is a tag or a digest."""
    project = await find_project(request, request.path_params["project_name"])
    if project is None:
        raise NotFound(f"project {request.path_params['project_name']} not found")
    repository = _repository_name(request, project)
    await require(request, project, action, repository)
    row = await find_artifact(backends(request), repository, request.path_params["reference"])
    return project, repository, row


@harbor_endpoint
async def add_artifact_label(request: Request) -> Response:
    project, repository, artifact = await resolve_artifact(request, Action.PUSH)
    body = await read_object(request)
    label_id = _positive_int(body.get("id"), "id")
    actor = await principal_of(request)
    await label.attach_label(backends(request), actor, project, repository, artifact, label_id)
    return Response(status_code=200)


@harbor_endpoint
async def remove_artifact_label(request: Request) -> Response:
    project, repository, artifact = await resolve_artifact(request, Action.PUSH)
    label_id = int_path(request, "label_id")
    actor = await principal_of(request)
    await label.detach_label(backends(request), actor, project, repository, artifact, label_id)
    return Response(status_code=200)


_ARTIFACT_LABELS = (
    "/api/v2.0/projects/{project_name}/repositories/{repository_name:path}"
    "/artifacts/{reference}/labels"
)

routes = [
    Route("/api/v2.0/labels", list_labels, methods=["GET"]),
    Route("/api/v2.0/labels", create_label, methods=["POST"]),
    Route("/api/v2.0/labels/{label_id}", get_label, methods=["GET"]),
    Route("/api/v2.0/labels/{label_id}", update_label, methods=["PUT"]),
    Route("/api/v2.0/labels/{label_id}", delete_label, methods=["DELETE"]),
    Route(_ARTIFACT_LABELS, add_artifact_label, methods=["POST"]),
    Route(f"{_ARTIFACT_LABELS}/{{label_id}}", remove_artifact_label, methods=["DELETE"]),
]
