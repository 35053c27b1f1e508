"""/projects/{project}/repositories/{repository}/artifacts: list, get, delete, copy, tags,
accessories and additions."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    json_response,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import SqlFilter, list_headers, page_of, parse_query
from registry.api.v2_0.repositories import repository_path
from registry.api.v2_0.security import backends, find_project, principal_of, project_for, require
from registry.db import artifacts
from registry.oci.digest import looks_like_digest
from registry.oci.names import is_valid_repository, project_of
from registry.rbac import Action, ProjectRef
from registry.services import artifact as artifact_service
from registry.services.errors import ManifestUnknown
from registry.services.immutability import immutable_tags

_COLUMNS = {
    "digest": ("a.digest", "text"),
    "media_type": ("a.media_type", "text"),
    "push_time": ("a.pushed_at", "timestamptz"),
    "pull_time": ("a.pulled_at", "timestamptz"),
    "tags": ("(SELECT string_agg(t.name, ',') FROM tags t WHERE t.artifact_id = a.id)", "text"),
    "type": ("a.artifact_kind", "text"),
    "size": ("a.size", "bigint"),
}


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() == "true"


async def _labels(request: Request, artifact_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in artifact_ids}
    rows = await backends(request).db.fetch(
        """
        SELECT al.artifact_id, l.id, l.name, l.description, l.color, l.scope, l.project_id,
               l.created_at, l.updated_at
        FROM artifact_labels al JOIN labels l ON l.id = al.label_id
        WHERE al.artifact_id = ANY($1::bigint[]) ORDER BY l.name
        """,
        artifact_ids,
    )
    for r in rows:
        found[r["artifact_id"]].append(
            {
                "id": r["id"],
                "name": r["name"],
                "description": r["description"],
                "color": r["color"],
                "scope": r["scope"],
                "project_id": r["project_id"] or 0,
                "creation_time": r["created_at"],
                "update_time": r["updated_at"],
            }
        )
    return found


async def _accessories(request: Request, row: asyncpg.Record) -> list[dict[str, Any]]:
    rows = await backends(request).db.fetch(
        """
        SELECT a.id, a.digest, a.artifact_type, a.size, a.pushed_at FROM artifacts a
        WHERE a.repository_id = $1 AND a.subject_digest = $2 ORDER BY a.pushed_at, a.id
        """,
        row["repository_id"],
        row["digest"],
    )
    return [
        {
            "id": r["id"],
            "artifact_id": r["id"],
            "subject_artifact_id": row["id"],
            "subject_artifact_digest": row["digest"],
            "subject_artifact_repo": row["repository_name"],
            "size": r["size"],
            "digest": r["digest"],
            "type": artifact_service.accessory_type(r["artifact_type"]),
            "icon": "",
            "creation_time": r["pushed_at"],
        }
        for r in rows
    ]


async def _to_json(
    request: Request, rows: list[asyncpg.Record], project: ProjectRef, repository: str
) -> list[dict[str, Any]]:
    b = backends(request)
    ids = [r["id"] for r in rows]
    with_tag = _flag(request, "with_tag", True)
    tags = await artifacts.tags_of(b.db, ids) if with_tag else {}
    children = await artifacts.children_of(b.db, ids)
    labels = await _labels(request, ids) if _flag(request, "with_label", False) else {}
    immutable: set[str] = set()
    if with_tag and _flag(request, "with_immutable_status", False):
        names = [t["name"] for group in tags.values() for t in group]
        immutable = await immutable_tags(b.db, project.id, repository, names)
    result = []
    for row in rows:
        body: dict[str, Any] = {
            "id": row["id"],
            "type": artifact_service.kind_of(row),
            "media_type": row["config_media_type"] or row["media_type"],
            "manifest_media_type": row["media_type"],
            "artifact_type": row["artifact_type"],
            "project_id": row["project_id"],
            "repository_id": row["repository_id"],
            "repository_name": row["repository_name"],
            "digest": row["digest"],
            "size": row["size"],
            "icon": "",
            "push_time": row["pushed_at"],
            "pull_time": row["pulled_at"],
            "extra_attrs": await artifact_service.extra_attrs(b, row),
            "annotations": row["annotations"] or {},
            "references": [
                {
                    "parent_id": row["id"],
                    "child_id": c["child_id"],
                    "child_digest": c["child_digest"],
                    "platform": c["platform"],
                }
                for c in children[row["id"]]
            ],
        }
        if with_tag:
            body["tags"] = [
                {
                    "id": t["id"],
                    "repository_id": t["repository_id"],
                    "artifact_id": t["artifact_id"],
                    "name": t["name"],
                    "push_time": t["pushed_at"],
                    "pull_time": t["pulled_at"],
                    "immutable": t["name"] in immutable,
                }
                for t in tags[row["id"]]
            ]
        if _flag(request, "with_label", False):
            body["labels"] = labels[row["id"]]
        accessories = None
        if _flag(request, "with_accessory", False) or _flag(request, "with_signature", False):
            accessories = await _accessories(request, row)
        if _flag(request, "with_accessory", False):
            body["accessories"] = accessories
        if _flag(request, "with_signature", False):
            body["is_signed"] = any(a["type"].startswith("signature.") for a in accessories or [])
        result.append(body)
    return result


async def resolve(request: Request, action: Action) -> tuple[ProjectRef, str, asyncpg.Record]:
    """(project, repository, artifact) named by the path, when the caller may ``action``."""
    project = await project_for(request, action, "project_name")
    repository = repository_path(request, project)
    reference = request.path_params["reference"]
    db = backends(request).db
    if looks_like_digest(reference):
        found = await artifacts.get_by_digest(db, repository, reference)
    else:
        found = await artifacts.get_by_tag(db, repository, reference)
    if found is None:
        raise NotFound(f"artifact {repository}:{reference} not found")
    row = await artifacts.get_detail_by_id(db, found["id"])
    assert row is not None
    return project, repository, row


@harbor_endpoint
async def list_artifacts(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT, "project_name")
    repository = repository_path(request, project)
    page = page_of(request)
    sql = SqlFilter(_COLUMNS)
    sql.add(f"r.name = {sql.param(repository)}")
    query = parse_query(request.query_params.get("q"))
    sql.apply_query(query)
    rows, total = await artifacts.list_detail(
        backends(request).db,
        sql.where(),
        sql.order_by(request.query_params.get("sort"), "a.pushed_at DESC, a.id DESC"),
        sql.params,
        page.page_size,
        page.offset,
    )
    body = await _to_json(request, rows, project, repository)
    return json_response(body, headers=list_headers(request, page, total))


@harbor_endpoint
async def get_artifact(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.READ_PROJECT)
    return json_response((await _to_json(request, [row], project, repository))[0])


@harbor_endpoint
async def delete_artifact(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.DELETE_ARTIFACT)
    actor = await principal_of(request)
    await artifact_service.delete_artifact(backends(request), actor, project, repository, row["id"])
    return Response(status_code=200)


@harbor_endpoint
async def copy_artifact(request: Request) -> Response:
    target = await project_for(request, Action.PUSH, "project_name")
    repository = repository_path(request, target)
    source_text = request.query_params.get("from")
    if not source_text:
        raise BadRequest("from is required: project/repository@digest or project/repository:tag")
    if "@" in source_text:
        source_repo, _, reference = source_text.partition("@")
    else:
        source_repo, _, reference = source_text.rpartition(":")
    if not is_valid_repository(source_repo) or not reference:
        raise BadRequest(f"invalid source {source_text!r}")
    source_project = await find_project(request, project_of(source_repo))
    if source_project is None:
        raise NotFound(f"project {project_of(source_repo)} not found")
    await require(request, source_project, Action.PULL)
    actor = await principal_of(request)
    try:
        digest = await artifact_service.copy_artifact(
            backends(request),
            actor,
            artifact_service.CopySource(source_project, source_repo, reference),
            target,
            repository,
        )
    except ManifestUnknown as exc:
        raise NotFound(exc.message) from None
    short = repository.split("/", 1)[1].replace("/", "%252F")
    return created(f"/api/v2.0/projects/{target.name}/repositories/{short}/artifacts/{digest}")


@harbor_endpoint
async def list_tags(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.READ_PROJECT)
    page = page_of(request)
    b = backends(request)
    tags = (await artifacts.tags_of(b.db, [row["id"]]))[row["id"]]
    window = tags[page.offset : page.offset + page.page_size]
    immutable = await immutable_tags(b.db, project.id, repository, [t["name"] for t in window])
    body = [
        {
            "id": t["id"],
            "repository_id": t["repository_id"],
            "artifact_id": t["artifact_id"],
            "name": t["name"],
            "push_time": t["pushed_at"],
            "pull_time": t["pulled_at"],
            "immutable": t["name"] in immutable,
        }
        for t in window
    ]
    return json_response(body, headers=list_headers(request, page, len(tags)))


@harbor_endpoint
async def create_tag(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.CREATE_TAG)
    body = await read_object(request)
    name = string_field(body, "name")
    assert name is not None
    actor = await principal_of(request)
    await artifact_service.create_tag(
        backends(request), actor, project, repository, row["id"], name
    )
    return created(f"{request.url.path}/{name}")


@harbor_endpoint
async def delete_tag(request: Request) -> Response:
    project, repository, _ = await resolve(request, Action.DELETE_TAG)
    actor = await principal_of(request)
    try:
        await artifact_service.delete_tag(
            backends(request), actor, project, repository, request.path_params["tag_name"]
        )
    except ManifestUnknown as exc:
        raise NotFound(exc.message) from None
    return Response(status_code=200)


@harbor_endpoint
async def list_accessories(request: Request) -> Response:
    _, _, row = await resolve(request, Action.READ_PROJECT)
    page = page_of(request)
    found = await _accessories(request, row)
    window = found[page.offset : page.offset + page.page_size]
    return json_response(window, headers=list_headers(request, page, len(found)))


@harbor_endpoint
async def addition(request: Request) -> Response:
    """``build_history`` of images (from their config); other additions are not kept."""
    _, _, row = await resolve(request, Action.READ_PROJECT)
    name = request.path_params["addition"]
    if name != "build_history" or artifact_service.kind_of(row) != "IMAGE":
        raise NotFound(f"addition {name} not found for this artifact")
    b = backends(request)
    manifest = await b.db.fetchval("SELECT manifest FROM artifacts WHERE id = $1", row["id"])
    config = json.loads(manifest).get("config")
    if not config:
        return json_response([])
    from registry.oci.digest import Digest
    from registry.storage import layout

    raw = await b.storage.get_content(layout.blob_path(Digest.parse(config["digest"])))
    history = json.loads(raw).get("history", [])
    return json_response(history)
