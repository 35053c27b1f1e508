"""Manifests by tag or digest: GET, HEAD, PUT and DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import authorize, caller_name
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.rbac import Action
from registry.services import manifest as manifest_service
from registry.services import proxy_cache
from registry.services.errors import ManifestUnknown, TagInvalid


@oci_endpoint
async def get_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PULL)
    reference = request.path_params["reference"]
    b = request.state.backends
    try:
        upstream = await proxy_cache.fill_manifest(b, project, name, reference)
        if upstream is not None:
            return _manifest_response(
                request, upstream.digest, upstream.media_type, upstream.content
            )
        if request.method == "GET":
            operator = await caller_name(request)
            stored = await manifest_service.pull_manifest(b, project, name, reference, operator)
        else:
            stored = await manifest_service.get_manifest(b, name, reference)
    except TagInvalid:
        # A malformed tag names nothing that could exist.
        raise ManifestUnknown(detail={"reference": reference}) from None
    return _manifest_response(request, stored.digest, stored.media_type, stored.content)


def _manifest_response(request: Request, digest: str, media_type: str, content: bytes) -> Response:
    headers = {
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Content-Length": str(len(content)),
    }
    body = b"" if request.method == "HEAD" else content
    return Response(body, media_type=media_type, headers=headers)


@oci_endpoint
async def put_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    b = request.state.backends
    await proxy_cache.refuse_push(b, project)
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
        await caller_name(request),
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
    project = await authorize(request, name, Action.DELETE)
    reference = request.path_params["reference"]
    b = request.state.backends
    try:
        await manifest_service.delete_manifest(
            b, project, name, reference, await caller_name(request)
        )
    except TagInvalid:
        raise ManifestUnknown(detail={"reference": reference}) from None
    return Response(status_code=202, headers={"Content-Length": "0"})
