"""/projects/{project}/repositories/{repository}/artifacts: list, get, delete, copy, tags,
accessories and additions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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
from registry.api.v2_0.listing import list_headers, list_query, page_of
from registry.api.v2_0.repositories import repository_for
from registry.api.v2_0.security import backends, find_project, principal_of, require
from registry.oci.names import is_valid_repository, project_of
from registry.rbac import Action, ProjectRef
from registry.services import artifact as artifact_service
from registry.services import chart as chart_service
from registry.services import scan as scan_service
from registry.services import signature as signature_service
from registry.services.errors import ManifestUnknown
from registry.services.icons import icon_for
from registry.services.immutability import immutable_tags


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() == "true"


def _label_json(row: asyncpg.Record) -> dict[str, Any]:
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


async def _accessories(request: Request, row: asyncpg.Record) -> list[dict[str, Any]]:
    rows = await artifact_service.accessories_of(backends(request), row)
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
            "icon": icon_for(artifact_service.accessory_type(r["artifact_type"])),
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
    tags = await artifact_service.tags_of(b, ids) if with_tag else {}
    children = await artifact_service.children_of(b, ids)
    labels = await artifact_service.labels_of(b, ids) if _flag(request, "with_label", False) else {}
    immutable: set[str] = set()
    if with_tag and _flag(request, "with_immutable_status", False):
        names = [t["name"] for group in tags.values() for t in group]
        immutable = await immutable_tags(b.db, project.id, repository, names)
    scan_overviews = (
        await scan_service.overviews(b, project, ids)
        if _flag(request, "with_scan_overview", False)
        else {}
    )
    sbom_overviews = (
        await scan_service.overviews(b, project, ids, scan_service.SBOM)
        if _flag(request, "with_sbom_overview", False)
        else {}
    )
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
            "icon": icon_for(artifact_service.kind_of(row)),
            "push_time": row["pushed_at"],
            "pull_time": row["pulled_at"],
            "extra_attrs": await artifact_service.extra_attrs(b, row),
            "annotations": row["annotations"] or {},
            "addition_links": _addition_links(request, artifact_service.kind_of(row), row),
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
            body["labels"] = [_label_json(label) for label in labels[row["id"]]]
        accessories = None
        if _flag(request, "with_accessory", False) or _flag(request, "with_signature", False):
            accessories = await _accessories(request, row)
        if _flag(request, "with_accessory", False):
            body["accessories"] = accessories
        if _flag(request, "with_signature", False):
            body["is_signed"] = any(
                a["type"].startswith("signature.") for a in accessories or []
            ) and await signature_service.signed(b, project, row)
        if row["id"] in scan_overviews:
            body["scan_overview"] = scan_overviews[row["id"]]
        if row["id"] in sbom_overviews:
            body["sbom_overview"] = sbom_overviews[row["id"]]
        result.append(body)
    return result


def _addition_links(request: Request, kind: str, row: asyncpg.Record) -> dict[str, Any]:
    project, _, rest = str(row["repository_name"]).partition("/")
    # Harbor's links encode the repository twice, as its own routes expect.
    repository = quote(quote(rest, safe=""), safe="")
    base = f"/api/v2.0/projects/{project}/repositories/{repository}/artifacts/{row['digest']}"
    return {
        name: {"absolute": False, "href": f"{base}/additions/{name}"}
        for name in chart_service.addition_names(kind)
    }


async def resolve(request: Request, action: Action) -> tuple[ProjectRef, str, asyncpg.Record]:
    """(project, repository, artifact) named by the path, when the caller may ``action``."""
    project, repository = await repository_for(request, action)
    reference = request.path_params["reference"]
    row = await artifact_service.artifact_detail(backends(request), repository, reference)
    return project, repository, row


@harbor_endpoint
async def list_artifacts(request: Request) -> Response:
    project, repository = await repository_for(request, Action.READ_PROJECT)
    query = list_query(request)
    rows, total = await artifact_service.list_artifacts(backends(request), repository, query)
    body = await _to_json(request, rows, project, repository)
    return json_response(body, headers=list_headers(request, query, total))


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
    target, repository = await repository_for(request, Action.PUSH)
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
    await require(request, source_project, Action.PULL, source_repo)
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
    tags = (await artifact_service.tags_of(b, [row["id"]]))[row["id"]]
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
    """``build_history`` of images (from their config), ``vulnerabilities`` (the latest
    report, by MIME type) and ``sbom`` (the latest SBOM document); ``values.yaml``,
    ``readme.md`` and ``dependencies`` of charts (from their archive)."""
    project, _, row = await resolve(request, Action.READ_PROJECT)
    name = request.path_params["addition"]
    history: Any = None
    if name == "vulnerabilities":
        return json_response(await scan_service.vulnerabilities(backends(request), project, row))
    if name == "sbom":
        history = await scan_service.sbom_document(backends(request), row)
    elif artifact_service.kind_of(row) == "CHART":
        content_type, text = await chart_service.chart_addition(backends(request), row, name)
        return Response(text, media_type=content_type)
    if name == "build_history":
        history = await artifact_service.build_history(backends(request), row)
    if history is None:
        raise NotFound(f"addition {name} not found for this artifact")
    return json_response(history)
