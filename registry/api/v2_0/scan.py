"""Scanning an artifact (``POST …/artifacts/{ref}/scan``, stop, logs) and a project's cosign
public keys (``/projects/{p}/cosign-keys``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.api.v2_0.artifacts import resolve
from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
    string_field,
)
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.rbac import Action
from registry.scanners.sbom import SPDX_JSON
from registry.services import scan, signature
from registry.services.errors import ScanUnavailable

_R = "/api/v2.0/projects/{project_name}/repositories/{repository_name:path}"
_A = _R + "/artifacts/{reference}"
_P = "/api/v2.0/projects/{project_name_or_id}"


async def _scan_type(request: Request) -> tuple[str, str]:
    """(scan type, SBOM media type) from Harbor's body ``{"scan_type": {"type": …}}`` or the
    ``scan_type`` query parameter; an empty body is a vulnerability scan."""
    scan_type = request.query_params.get("scan_type") or scan.VULNERABILITY
    media_type = request.query_params.get("sbom_media_type") or SPDX_JSON
    length = request.headers.get("content-length")
    if length not in (None, "0") or request.headers.get("transfer-encoding"):
        body: dict[str, Any] = await read_object(request)
        given = body.get("scan_type")
        if given is not None:
            if not isinstance(given, dict) or not isinstance(given.get("type"), str):
                raise BadRequest('scan_type must be {"type": "vulnerability" | "sbom"}')
            scan_type = given["type"]
            media = given.get("sbom_media_type", media_type)
            if not isinstance(media, str):
                raise BadRequest("sbom_media_type must be a string")
            media_type = media
    return scan_type, media_type


@harbor_endpoint
async def scan_artifact(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.SCAN)
    scan_type, media_type = await _scan_type(request)
    actor = await principal_of(request)
    await scan.start_scan(
        backends(request),
        actor,
        project,
        repository,
        row,
        scan_type=scan_type,
        sbom_media_type=media_type,
    )
    return Response(status_code=202)


@harbor_endpoint
async def stop_scan(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.SCAN)
    scan_type, _ = await _scan_type(request)
    actor = await principal_of(request)
    await scan.stop_scan(backends(request), actor, project, repository, row, scan_type)
    return Response(status_code=202)


@harbor_endpoint
async def scan_log(request: Request) -> Response:
    _, _, row = await resolve(request, Action.READ_PROJECT)
    try:
        text = await scan.scan_log(backends(request), row, request.path_params["report_id"])
    except ScanUnavailable as exc:
        raise NotFound(exc.message) from None
    return PlainTextResponse(text)


def _key_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "public_key": row["public_key"],
        "creation_time": row["created_at"],
    }


@harbor_endpoint
async def list_cosign_keys(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    rows = await signature.list_keys(backends(request), project)
    return json_response([_key_json(r) for r in rows])


@harbor_endpoint
async def add_cosign_key(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    name = string_field(body, "name")
    public_key = string_field(body, "public_key")
    assert name is not None
    assert public_key is not None
    actor = await principal_of(request)
    key_id = await signature.add_key(backends(request), actor, project, name, public_key)
    return created(f"{request.url.path}/{key_id}")


@harbor_endpoint
async def delete_cosign_key(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    actor = await principal_of(request)
    await signature.delete_key(backends(request), actor, project, int_path(request, "key_id"))
    return Response(status_code=200)


routes = [
    Route(f"{_A}/scan", scan_artifact, methods=["POST"]),
    Route(f"{_A}/scan/stop", stop_scan, methods=["POST"]),
    Route(f"{_A}/scan/{{report_id}}/log", scan_log, methods=["GET"]),
    Route(f"{_P}/cosign-keys", list_cosign_keys, methods=["GET"]),
    Route(f"{_P}/cosign-keys", add_cosign_key, methods=["POST"]),
    Route(f"{_P}/cosign-keys/{{key_id}}", delete_cosign_key, methods=["DELETE"]),
]
