"""GET, HEAD, PUT and DELETE of manifests by tag or digest."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import authorize
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.rbac import Action
from registry.services import manifest as manifest_service
from registry.services.errors import ManifestUnknown, TagInvalid


@oci_endpoint
async def get_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    await authorize(request, name, Action.PULL)
    try:
        stored = await manifest_service.get_manifest(
            request.state.backends, name, request.path_params["reference"]
        )
    except TagInvalid:
        # A malformed tag names nothing that could exist.
        raise ManifestUnknown(detail={"reference": request.path_params["reference"]}) from None
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
    return Response(status_code=201, headers=headers)


@oci_endpoint
async def delete_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    await authorize(request, name, Action.DELETE)
    try:
        await manifest_service.delete_manifest(
            request.state.backends, name, request.path_params["reference"]
        )
    except TagInvalid:
        raise ManifestUnknown(detail={"reference": request.path_params["reference"]}) from None
    return Response(status_code=202, headers={"Content-Length": "0"})
