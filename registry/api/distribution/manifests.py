"""Manifests by tag or digest: GET, HEAD, PUT and DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import authorize, caller_name, caller_of, facts_of
from registry.api.distribution.endpoint import content_length, oci_endpoint
from registry.api.distribution.mirror import read_name
from registry.rbac import Action, ProjectRef
from registry.replication.adapter import Manifest
from registry.services import access, proxy_cache, pull_policy
from registry.services import manifest as manifest_service
from registry.services.errors import ManifestUnknown, TagInvalid
from registry.services.scan_job import is_scanner_subject


@oci_endpoint
async def get_manifest(request: Request) -> Response:
    name = await read_name(request)
    project = await authorize(request, name, Action.PULL)
    reference = request.path_params["reference"]
    b = request.state.backends
    facts = facts_of(request, project)
    try:
        upstream = await proxy_cache.fill_manifest(b, project, name, reference, facts)
        if upstream is not None:
            # Served from upstream while it is cached: the project's policies still decide.
            await _check_pull_policy(request, project, name, upstream=upstream)
            return _manifest_response(
                request, upstream.digest, upstream.media_type, upstream.content
            )
        # The scanner's reads are not users' pulls: no pull time, audit record or webhook.
        if request.method == "GET" and not await _by_scanner(request):
            operator = await caller_name(request)
            stored = await manifest_service.pull_manifest(
                b, project, name, reference, operator, facts
            )
        else:
            stored = await manifest_service.get_manifest(b, name, reference, facts)
    except TagInvalid:
        # A malformed tag names nothing that could exist.
        raise ManifestUnknown(detail={"reference": reference}) from None
    await _check_pull_policy(request, project, name, artifact_id=stored.artifact_id)
    return _manifest_response(request, stored.digest, stored.media_type, stored.content)


def _manifest_response(request: Request, digest: str, media_type: str, content: bytes) -> Response:
    headers = {
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Content-Length": str(len(content)),
    }
    body = b"" if request.method == "HEAD" else content
    return Response(body, media_type=media_type, headers=headers)


async def _by_scanner(request: Request) -> bool:
    caller = await caller_of(request)
    return caller.claims is not None and is_scanner_subject(caller.claims.subject)


async def _check_pull_policy(
    request: Request,
    project: ProjectRef,
    repository: str,
    *,
    artifact_id: int | None = None,
    upstream: Manifest | None = None,
) -> None:
    """Vulnerability and content-trust policies; the scanner's pulls are exempt, and for
    content trust so are signing clients that may push (they read what they sign)."""
    caller = await caller_of(request)
    scanner_pull = await _by_scanner(request)
    agent = request.headers.get("user-agent", "").lower()
    signing_client = False
    if "cosign" in agent or "notation" in agent:
        if caller.claims is not None:
            signing_client = caller.claims.allows("repository", repository, "push")
        elif caller.principal is not None:
            signing_client = await access.may(
                request.state.backends.db, caller.principal, project, Action.PUSH
            )
    b = request.state.backends
    if upstream is not None:
        await pull_policy.check_uncached_pull(
            b,
            project,
            upstream.media_type,
            upstream.content,
            scanner_pull=scanner_pull,
            signing_client=signing_client,
        )
        return
    assert artifact_id is not None
    await pull_policy.check_pull(
        b,
        project,
        artifact_id,
        scanner_pull=scanner_pull,
        signing_client=signing_client,
        facts=facts_of(request, project),
    )


@oci_endpoint
async def put_manifest(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.PUSH)
    b = request.state.backends
    await proxy_cache.refuse_push(b, project, facts_of(request, project))
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
        facts_of(request, project),
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
