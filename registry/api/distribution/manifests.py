"""GET, HEAD, PUT and DELETE of manifests by tag or digest."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import authorize, caller_name
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.rbac import Action
from registry.services import manifest as manifest_service
from registry.services.audit import AuditEvent
from registry.services.errors import ManifestUnknown, TagInvalid


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
        b.audit.record_pull(stored.artifact_id, stored.tag_id, stored.repository_id)
        b.audit.record(
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
    b.audit.record(
        AuditEvent(
            "create",
            "artifact",
            _resource(name, request.path_params["reference"]),
            await caller_name(request),
            project.id,
        )
    )
    return Response(status_code=201, headers=headers)


@oci_endpoint
async def delete_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.DELETE)
    reference = request.path_params["reference"]
    b = request.state.backends
    try:
        await manifest_service.delete_manifest(b, project, name, reference)
    except TagInvalid:
        raise ManifestUnknown(detail={"reference": reference}) from None
    b.audit.record(
        AuditEvent(
            "delete", "artifact", _resource(name, reference), await caller_name(request), project.id
        )
    )
    return Response(status_code=202, headers={"Content-Length": "0"})


def _resource(repository: str, reference: str) -> str:
    return f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"
