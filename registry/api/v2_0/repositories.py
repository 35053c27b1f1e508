"""/repositories and /projects/{project}/repositories."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import paged_list
from registry.api.v2_0.security import (
    backends,
    find_project,
    principal_of,
    require,
)
from registry.rbac import Action, ProjectRef
from registry.services import repository, repository_visibility


def repository_path(request: Request, project: ProjectRef) -> str:
    """The full repository name from the path; Harbor clients encode '/' as %2F or %252F."""
    name = unquote(unquote(request.path_params["repository_name"]))
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise BadRequest("invalid repository name")
    return f"{project.name}/{name}"


async def repository_for(request: Request, action: Action) -> tuple[ProjectRef, str]:
    """The project and full repository name the path names, when the caller may ``action``
    on that repository."""
    name = request.path_params["project_name"]
    project = await find_project(request, name)
    if project is None:
        raise NotFound(f"project {name} not found")
    repository_name = repository_path(request, project)
    await require(request, project, action, repository_name)
    return project, repository_name


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project_id": row["project_id"],
        "name": row["name"],
        "description": row["description"],
        "artifact_count": row["artifact_count"],
        "pull_count": row["pull_count"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


@harbor_endpoint
async def list_all(request: Request) -> Response:
    principal = await principal_of(request)
    return await paged_list(
        request,
        lambda query: repository.list_repositories(backends(request), principal, query),
        to_json,
    )


@harbor_endpoint
async def list_in_project(request: Request) -> Response:
    name = request.path_params["project_name"]
    project = await find_project(request, name)
    if project is None:
        raise NotFound(f"project {name} not found")
    principal = await principal_of(request)
    # A robot limited to some repositories lists those.
    names = await repository_visibility.readable_in_project(backends(request), principal, project)
    if names == []:
        await require(request, project, Action.READ_PROJECT)
    return await paged_list(
        request,
        lambda query: repository.list_in_project(backends(request), project, query, names),
        to_json,
    )


async def _repository(request: Request, action: Action) -> tuple[ProjectRef, asyncpg.Record]:
    project, name = await repository_for(request, action)
    row = await repository.get_repository(backends(request), name)
    return project, row


@harbor_endpoint
async def get_repository(request: Request) -> Response:
    _, row = await _repository(request, Action.READ_PROJECT)
    return json_response(to_json(row))


@harbor_endpoint
async def update_repository(request: Request) -> Response:
    project, row = await _repository(request, Action.PUSH)
    body = await read_object(request)
    description = body.get("description", "")
    if not isinstance(description, str):
        raise BadRequest("description must be a string")
    actor = await principal_of(request)
    await repository.set_description(backends(request), actor, project, row, description)
    return Response(status_code=200)


@harbor_endpoint
async def delete_repository(request: Request) -> Response:
    project, row = await _repository(request, Action.DELETE)
    actor = await principal_of(request)
    await repository.delete_repository(backends(request), actor, project, row)
    return Response(status_code=200)
