"""Blob uploads: POST (session, monolithic, mount), PATCH, PUT, GET status, DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import (
    authorize,
    authorize_mount_source,
    caller_name,
    facts_of,
    may_pull,
)
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.metrics.instruments import counted
from registry.rbac import Action, ProjectRef
from registry.services import blob as blob_service
from registry.services import proxy_cache
from registry.services import upload as upload_service
from registry.services.blob import BlobInfo
from registry.services.errors import DigestInvalid
from registry.services.upload import UploadState


def _created(name: str, info: BlobInfo) -> Response:
    return Response(
        status_code=201,
        headers={
            "Location": f"/v2/{name}/blobs/{info.digest}",
            "Docker-Content-Digest": str(info.digest),
            "Content-Length": "0",
        },
    )


def _in_progress(state: UploadState, status: int = 202) -> Response:
    headers = {
        "Location": f"/v2/{state.repository}/blobs/uploads/{state.id}",
        "Docker-Upload-UUID": str(state.id),
        # An empty upload reports 0-0, as Distribution does; clients only read the end.
        "Range": f"0-{max(state.size - 1, 0)}",
        "Content-Length": "0",
    }
    return Response(status_code=status, headers=headers)


async def _try_mount(request: Request, target: ProjectRef) -> BlobInfo | None:
    """Mount ``?mount=`` from ``?from=`` (or, without it, from any project the caller may pull
    from). None means: fall back to an ordinary upload."""
    mount = request.query_params.get("mount")
    if not mount:
        return None
    b = request.state.backends
    digest = blob_service.parse_digest(mount)
    source_name = request.query_params.get("from")
    candidates: list[ProjectRef]
    if source_name:
        source = await authorize_mount_source(request, request.path_params["name"], source_name)
        if source is None:
            return None
        candidates = [source]
    else:
        candidates = [
            p for p in await blob_service.projects_holding(b, digest) if await may_pull(request, p)
        ]
    for source in candidates:
        if await blob_service.mount_blob(b, target, source, digest):
            return await blob_service.stat_blob(b, target, digest)
    return None


@oci_endpoint
async def start_upload(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    b = request.state.backends
    await proxy_cache.refuse_push(b, project, facts_of(request, project))
    operator = await caller_name(request)
    mount = request.query_params.get("mount") or ""
    async with upload_service.announcing_quota_refusal(b, project, name, operator, mount):
        mounted = await _try_mount(request, project)
    if mounted is not None:
        return _created(name, mounted)
    digest_text = request.query_params.get("digest")
    if digest_text is not None:
        digest = blob_service.parse_digest(digest_text)
        info = await upload_service.upload_whole(
            b,
            project,
            name,
            digest,
            counted(request.stream(), "upload"),
            content_length(request),
            operator=operator,
        )
        return _created(name, info)
    state = await upload_service.start_upload(b, project, name)
    return _in_progress(state)


@oci_endpoint
async def patch_upload(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    upload_id = upload_service.parse_upload_id(request.path_params["uuid"])
    state = await upload_service.append_chunk(
        request.state.backends,
        project,
        name,
        upload_id,
        counted(request.stream(), "upload"),
        request.headers.get("content-range"),
        content_length(request),
        operator=await caller_name(request),
    )
    return _in_progress(state)


@oci_endpoint
async def finish_upload(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    upload_id = upload_service.parse_upload_id(request.path_params["uuid"])
    digest_text = request.query_params.get("digest")
    if not digest_text:
        raise DigestInvalid("the digest query parameter is required")
    digest = blob_service.parse_digest(digest_text)
    info = await upload_service.complete_upload(
        request.state.backends,
        project,
        name,
        upload_id,
        digest,
        counted(request.stream(), "upload"),
        request.headers.get("content-range"),
        content_length(request),
        operator=await caller_name(request),
    )
    return _created(name, info)


@oci_endpoint
async def upload_status(request: Request) -> Response:
    name = request.path_params["name"]
    await authorize(request, name, Action.PUSH)
    upload_id = upload_service.parse_upload_id(request.path_params["uuid"])
    state = await upload_service.upload_status(request.state.backends, name, upload_id)
    return _in_progress(state, status=204)


@oci_endpoint
async def cancel_upload(request: Request) -> Response:
    name = request.path_params["name"]
    await authorize(request, name, Action.PUSH)
    upload_id = upload_service.parse_upload_id(request.path_params["uuid"])
    await upload_service.cancel_upload(request.state.backends, name, upload_id)
    return Response(status_code=204)
