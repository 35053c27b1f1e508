"""/repositories and /projects/{project}/repositories."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import SqlFilter, list_headers, page_of, parse_query
from registry.api.v2_0.projects import visible_to
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.db import repositories
from registry.rbac import Action, ProjectRef
from registry.services.artifact import check_tags_mutable, remove_artifacts
from registry.services.audit import AuditEvent

_COLUMNS = {
    "name": ("r.name", "text"),
    "project_id": ("r.project_id", "bigint"),
    "creation_time": ("r.created_at", "timestamptz"),
    "update_time": ("r.updated_at", "timestamptz"),
    "pull_count": ("r.pull_count", "bigint"),
}


def repository_path(request: Request, project: ProjectRef) -> str:
    """The full repository name from the path; Harbor clients encode '/' as %2F or %252F."""
    name = unquote(unquote(request.path_params["repository_name"]))
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise BadRequest("invalid repository name")
    return f"{project.name}/{name}"


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


async def _list(request: Request, sql: SqlFilter) -> Response:
    page = page_of(request)
    sql.apply_query(parse_query(request.query_params.get("q")))
    rows, total = await repositories.list_detail(
        backends(request).db,
        sql.where(),
        sql.order_by(request.query_params.get("sort"), "r.id"),
        sql.params,
        page.page_size,
        page.offset,
    )
    return json_response([to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def list_all(request: Request) -> Response:
    sql = SqlFilter(_COLUMNS)
    visible_to(await principal_of(request), sql)
    return await _list(request, sql)


@harbor_endpoint
async def list_in_project(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT, "project_name")
    sql = SqlFilter(_COLUMNS)
    sql.add(f"r.project_id = {sql.param(project.id)}")
    return await _list(request, sql)


async def _repository(request: Request, action: Action) -> tuple[ProjectRef, asyncpg.Record]:
    project = await project_for(request, action, "project_name")
    row = await repositories.get_detail(backends(request).db, repository_path(request, project))
    if row is None:
        raise NotFound("repository not found")
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
    b = backends(request)
    await repositories.set_description(b.db, row["id"], description)
    actor = await principal_of(request)
    await b.audit.record(AuditEvent("update", "repository", row["name"], actor.name, project.id))
    return Response(status_code=200)


@harbor_endpoint
async def delete_repository(request: Request) -> Response:
    project, row = await _repository(request, Action.DELETE)
    b = backends(request)
    tag_names = [
        r["name"]
        for r in await b.db.fetch("SELECT name FROM tags WHERE repository_id = $1", row["id"])
    ]
    await check_tags_mutable(b, project, row["name"], tag_names)
    artifact_ids = [
        r["id"]
        for r in await b.db.fetch("SELECT id FROM artifacts WHERE repository_id = $1", row["id"])
    ]
    await remove_artifacts(b, project, artifact_ids)
    await repositories.delete(b.db, row["id"])
    actor = await principal_of(request)
    await b.audit.record(AuditEvent("delete", "repository", row["name"], actor.name, project.id))
    return Response(status_code=200)
