"""/scanners (registrations, ping, metadata, default), /projects/{p}/scanner (+ candidates),
/system/CVEAllowlist, /system/scanAll/schedule and the scan-all metrics."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import created, harbor_endpoint, json_response, read_object
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, page_of
from registry.api.v2_0.security import authenticated, backends, project_for, sysadmin
from registry.rbac import Action
from registry.services import cve_allowlist, scan, scanner, system_job
from registry.services import jobs as job_service
from registry.services.errors import ScannerUnreachable

_S = "/api/v2.0/scanners"
_P = "/api/v2.0/projects/{project_name_or_id}"


def registration_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "name": row["name"],
        "description": row["description"],
        "url": row["url"],
        "disabled": row["disabled"],
        "is_default": row["is_default"],
        "auth": row["auth"],
        # Never shown: it is a secret.
        "access_credential": "",
        "skip_certVerify": row["skip_cert_verify"],
        "use_internal_addr": row["use_internal_addr"],
        "create_time": row["created_at"],
        "update_time": row["updated_at"],
    }


async def _with_health(request: Request, row: asyncpg.Record) -> dict[str, Any]:
    body = registration_json(row)
    health, metadata = await scanner.health(backends(request), row)
    body["health"] = health
    if metadata is not None:
        info = metadata.get("scanner") or {}
        body["adapter"] = info.get("name", "")
        body["vendor"] = info.get("vendor", "")
        body["version"] = info.get("version", "")
    return body


@harbor_endpoint
async def list_scanners(request: Request) -> Response:
    await sysadmin(request)
    page = page_of(request)
    rows = await scanner.list_registrations(backends(request))
    window = rows[page.offset : page.offset + page.page_size]
    return json_response(
        [registration_json(r) for r in window], headers=list_headers(request, page, len(rows))
    )


@harbor_endpoint
async def create_scanner(request: Request) -> Response:
    actor = await sysadmin(request)
    body = await read_object(request)
    registration_uuid = await scanner.create_registration(backends(request), actor, body)
    return created(f"{_S}/{registration_uuid}")


@harbor_endpoint
async def ping_scanner(request: Request) -> Response:
    await sysadmin(request)
    body = await read_object(request)
    try:
        await scanner.ping(body)
    except ScannerUnreachable as exc:
        raise BadRequest(exc.message) from None
    return Response(status_code=200)


@harbor_endpoint
async def get_scanner(request: Request) -> Response:
    await sysadmin(request)
    row = await scanner.get_registration(backends(request), request.path_params["registration_id"])
    return json_response(await _with_health(request, row))


@harbor_endpoint
async def update_scanner(request: Request) -> Response:
    actor = await sysadmin(request)
    body = await read_object(request)
    await scanner.update_registration(
        backends(request), actor, request.path_params["registration_id"], body
    )
    return Response(status_code=200)


@harbor_endpoint
async def delete_scanner(request: Request) -> Response:
    actor = await sysadmin(request)
    row = await scanner.delete_registration(
        backends(request), actor, request.path_params["registration_id"]
    )
    return json_response(registration_json(row))


@harbor_endpoint
async def set_default_scanner(request: Request) -> Response:
    actor = await sysadmin(request)
    body = await read_object(request)
    if body.get("is_default") is not True:
        raise BadRequest('the body must be {"is_default": true}')
    await scanner.set_default(backends(request), actor, request.path_params["registration_id"])
    return Response(status_code=200)


@harbor_endpoint
async def scanner_metadata(request: Request) -> Response:
    await sysadmin(request)
    try:
        body = await scanner.metadata(backends(request), request.path_params["registration_id"])
    except ScannerUnreachable as exc:
        raise BadRequest(exc.message) from None
    return json_response(body)


@harbor_endpoint
async def project_scanner(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    row = await scanner.scanner_of_project(backends(request), project)
    if row is None:
        raise NotFound("no scanner is configured for this project")
    return json_response(registration_json(row))


@harbor_endpoint
async def set_project_scanner(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    registration_uuid = body.get("uuid")
    if not isinstance(registration_uuid, str):
        raise BadRequest("uuid is required")
    actor = await authenticated(request)
    await scanner.set_project_scanner(backends(request), actor, project, registration_uuid)
    return Response(status_code=200)


@harbor_endpoint
async def scanner_candidates(request: Request) -> Response:
    await project_for(request, Action.MANAGE_PROJECT)
    page = page_of(request)
    rows = await scanner.candidates(backends(request))
    window = rows[page.offset : page.offset + page.page_size]
    return json_response(
        [registration_json(r) for r in window], headers=list_headers(request, page, len(rows))
    )


@harbor_endpoint
async def get_system_allowlist(request: Request) -> Response:
    await authenticated(request)
    return json_response(await cve_allowlist.get(backends(request), None))


@harbor_endpoint
async def put_system_allowlist(request: Request) -> Response:
    actor = await sysadmin(request)
    body = await read_object(request)
    await cve_allowlist.put(backends(request), actor, None, body)
    return Response(status_code=200)


def _schedule_json(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None or row["schedule_type"] == "None":
        return {"schedule": {"type": "None", "cron": ""}}
    return {
        "schedule": {
            "type": row["schedule_type"],
            "cron": row["cron"],
            "next_scheduled_time": row["next_run_at"],
        },
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


@harbor_endpoint
async def get_scan_all_schedule(request: Request) -> Response:
    await sysadmin(request)
    row = await job_service.get_schedule(backends(request), scan.ALL_KIND, system_job.OWNER)
    return json_response(_schedule_json(row))


@harbor_endpoint
async def put_scan_all_schedule(request: Request) -> Response:
    actor = await sysadmin(request)
    body = await read_object(request)
    schedule = body.get("schedule")
    if not isinstance(schedule, dict) or not isinstance(schedule.get("type"), str):
        raise BadRequest("schedule.type is required")
    b = backends(request)
    if schedule["type"] == "Manual":
        await scan.scan_all_now(b, actor)
        return Response(status_code=201)
    cron = schedule.get("cron")
    if cron is not None and not isinstance(cron, str):
        raise BadRequest("schedule.cron must be a string")
    await system_job.set_schedule(b, actor, scan.ALL_KIND, schedule["type"], cron, {})
    return Response(status_code=201 if request.method == "POST" else 200)


@harbor_endpoint
async def stop_scan_all(request: Request) -> Response:
    actor = await sysadmin(request)
    await scan.stop_scan_all(backends(request), actor)
    return Response(status_code=202)


def _metrics(scheduled: bool) -> Any:
    @harbor_endpoint
    async def metrics(request: Request) -> Response:
        await sysadmin(request)
        return json_response(await scan.scan_all_metrics(backends(request), scheduled))

    return metrics


routes = [
    Route(_S, list_scanners, methods=["GET"]),
    Route(_S, create_scanner, methods=["POST"]),
    Route(f"{_S}/ping", ping_scanner, methods=["POST"]),
    Route(f"{_S}/{{registration_id}}", get_scanner, methods=["GET"]),
    Route(f"{_S}/{{registration_id}}", update_scanner, methods=["PUT"]),
    Route(f"{_S}/{{registration_id}}", delete_scanner, methods=["DELETE"]),
    Route(f"{_S}/{{registration_id}}", set_default_scanner, methods=["PATCH"]),
    Route(f"{_S}/{{registration_id}}/metadata", scanner_metadata, methods=["GET"]),
    Route(f"{_P}/scanner", project_scanner, methods=["GET"]),
    Route(f"{_P}/scanner", set_project_scanner, methods=["PUT"]),
    Route(f"{_P}/scanner/candidates", scanner_candidates, methods=["GET"]),
    Route("/api/v2.0/system/CVEAllowlist", get_system_allowlist, methods=["GET"]),
    Route("/api/v2.0/system/CVEAllowlist", put_system_allowlist, methods=["PUT"]),
    Route("/api/v2.0/system/scanAll/schedule", get_scan_all_schedule, methods=["GET"]),
    Route("/api/v2.0/system/scanAll/schedule", put_scan_all_schedule, methods=["POST", "PUT"]),
    Route("/api/v2.0/system/scanAll/stop", stop_scan_all, methods=["POST"]),
    Route("/api/v2.0/scans/all/metrics", _metrics(False), methods=["GET"]),
    Route("/api/v2.0/scans/schedule/metrics", _metrics(True), methods=["GET"]),
]
