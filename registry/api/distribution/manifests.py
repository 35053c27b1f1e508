"""Manifests by tag or digest: GET, HEAD, PUT and DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import authorize, caller_name
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.oci.digest import looks_like_digest
from registry.rbac import Action
from registry.services import manifest as manifest_service
from registry.services.audit import AuditEvent
from registry.services.errors import ManifestUnknown, TagInvalid
from registry.webhooks import hooks
from registry.webhooks.events import DELETE_ARTIFACT, PULL_ARTIFACT, PUSH_ARTIFACT


@oci_endpoint
async def get_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PULL)
    reference = request.path_params["reference"]
    b = request.state.backends
    try:
        stored = await manifest_service.get_manifest(b, name, reference)
    except TagInvalid:
        # A malformed tag names nothing that could exist.
        raise ManifestUnknown(detail={"reference": reference}) from None
    if request.method == "GET":
        operator = await caller_name(request)
        tag = None if looks_like_digest(reference) else reference
        b.audit.record_pull(stored.artifact_id, stored.tag_id, stored.repository_id)
        hooks.artifact_event(b, PULL_ARTIFACT, project, name, stored.digest, tag, operator)
        await b.audit.record(
            AuditEvent(
                "pull",
                "artifact",
                _resource(name, reference),
                await caller_name(request),
                project.id,
            )
        )
    headers = {
        "Docker-Content-Digest": stored.digest,
        "ETag": f'"{stored.digest}"',
        "Content-Length": str(len(stored.content)),
    }
    body = b"" if request.method == "HEAD" else stored.content
    return Response(body, media_type=stored.media_type, headers=headers)


@oci_endpoint
async def put_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    b = request.state.backends
    manifest_service.check_manifest_length(b, content_length(request))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        # Chunked bodies have no Content-Length: stop reading as soon as the limit is passed.
        manifest_service.check_manifest_length(b, len(body))
    pushed = await manifest_service.put_manifest(
        b,
        project,
        name,
        request.path_params["reference"],
        bytes(body),
        request.headers.get("content-type"),
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{pushed.digest}",
        "Docker-Content-Digest": str(pushed.digest),
        "Content-Length": "0",
    }
    if pushed.subject:
        headers["OCI-Subject"] = pushed.subject
    reference = request.path_params["reference"]
    operator = await caller_name(request)
    tag = None if looks_like_digest(reference) else reference
    await b.audit.record(
        AuditEvent("create", "artifact", _resource(name, reference), operator, project.id)
    )
    hooks.artifact_event(b, PUSH_ARTIFACT, project, name, str(pushed.digest), tag, operator)
    hooks.quota_warning_if_needed(b, project, name, str(pushed.digest), tag, operator)
    return Response(status_code=201, headers=headers)


@oci_endpoint
async def delete_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.DELETE)
    reference = request.path_params["reference"]
    b = request.state.backends
    try:
        deleted = await manifest_service.delete_manifest(b, project, name, reference)
    except TagInvalid:
        raise ManifestUnknown(detail={"reference": reference}) from None
    if deleted is not None:
        # Harbor notifies artifact deletions, not the removal of a tag alone.
        digest, first_tag = deleted
        hooks.artifact_event(
            b, DELETE_ARTIFACT, project, name, digest, first_tag, await caller_name(request)
        )
    await b.audit.record(
        AuditEvent(
            "delete", "artifact", _resource(name, reference), await caller_name(request), project.id
        )
    )
    return Response(status_code=202, headers={"Content-Length": "0"})


def _resource(repository: str, reference: str) -> str:
    return f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"
