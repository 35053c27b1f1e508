"""/system/gc and /system/purgeaudit: run now, schedule, history, log, stop."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
)
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, page_of
from registry.api.v2_0.security import backends, sysadmin
from registry.db import jobs
from registry.services import audit, gc
from registry.services import jobs as job_service
from registry.services.audit import AuditEvent

_OWNER = "system"


def _job_json(row: asyncpg.Record, schedule: asyncpg.Record | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job_name": row["kind"],
        "job_kind": "SCHEDULE" if row["trigger"] == "SCHEDULE" else "MANUAL",
        "job_parameters": json.dumps(row["parameters"] or {}),
        "job_status": row["status"],
        "schedule": _schedule_json(schedule)["schedule"] if schedule else None,
        "deleted": False,
        "result": row["result"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


def _schedule_json(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {"schedule": {"type": "None", "cron": ""}, "parameters": {}}
    return {
        "schedule": {
            "type": row["schedule_type"],
            "cron": row["cron"],
            "next_scheduled_time": row["next_run_at"],
        },
        "parameters": row["parameters"] or {},
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


def _parameters(kind: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadRequest("parameters must be an object")
    if kind == gc.KIND:
        workers = raw.get("workers", 1)
        if not isinstance(workers, int) or not 1 <= workers <= 5:
            raise BadRequest("workers is a number from 1 to 5")
        return {
            "delete_untagged": bool(raw.get("delete_untagged", False)),
            "dry_run": bool(raw.get("dry_run", False)),
            "workers": workers,
        }
    hours = raw.get("audit_retention_hour", 24 * 30)
    if not isinstance(hours, int) or hours < 1:
        raise BadRequest("audit_retention_hour is a positive number of hours")
    operations = raw.get("include_operations", "create,delete,pull")
    if not isinstance(operations, str):
        raise BadRequest("include_operations is a comma-separated list")
    return {
        "audit_retention_hour": hours,
        "include_operations": operations,
        "dry_run": bool(raw.get("dry_run", False)),
    }


def _endpoints(kind: str, base: str) -> list[Route]:
    @harbor_endpoint
    async def history(request: Request) -> Response:
        await sysadmin(request)
        page = page_of(request)
        b = backends(request)
        rows, total = await jobs.list_kind(b.db, [kind], page.page_size, page.offset)
        schedule = await jobs.get_schedule(b.db, kind, _OWNER)
        body = [_job_json(r, schedule if r["trigger"] == "SCHEDULE" else None) for r in rows]
        return json_response(body, headers=list_headers(request, page, total))

    async def _job(request: Request) -> asyncpg.Record:
        await sysadmin(request)
        row = await jobs.get(backends(request).db, int_path(request, "job_id"))
        if row is None or row["kind"] != kind:
            raise NotFound("job not found")
        return row

    @harbor_endpoint
    async def get_job(request: Request) -> Response:
        return json_response(_job_json(await _job(request), None))

    @harbor_endpoint
    async def job_log(request: Request) -> Response:
        row = await _job(request)
        text = await jobs.log_text(backends(request).db, row["id"])
        return PlainTextResponse(text or "")

    @harbor_endpoint
    async def stop_job(request: Request) -> Response:
        row = await _job(request)
        await job_service.stop(backends(request), row["id"])
        return Response(status_code=200)

    @harbor_endpoint
    async def get_schedule(request: Request) -> Response:
        await sysadmin(request)
        row = await jobs.get_schedule(backends(request).db, kind, _OWNER)
        return json_response(_schedule_json(row))

    @harbor_endpoint
    async def put_schedule(request: Request) -> Response:
        principal = await sysadmin(request)
        body = await read_object(request)
        schedule = body.get("schedule")
        if not isinstance(schedule, dict) or not isinstance(schedule.get("type"), str):
            raise BadRequest("schedule.type is required")
        parameters = _parameters(kind, body.get("parameters"))
        b = backends(request)
        if schedule["type"] == "Manual":
            job_id = await job_service.submit(b, kind, parameters)
            await b.audit.record(AuditEvent("create", "job", f"{kind}:{job_id}", principal.name))
            return created(f"{base}/{job_id}")
        await job_service.set_schedule(
            b, kind, _OWNER, schedule["type"], schedule.get("cron"), parameters
        )
        await b.audit.record(AuditEvent("update", "schedule", kind, principal.name))
        return Response(status_code=201 if request.method == "POST" else 200)

    return [
        Route(base, history, methods=["GET"]),
        Route(f"{base}/schedule", get_schedule, methods=["GET"]),
        Route(f"{base}/schedule", put_schedule, methods=["POST", "PUT"]),
        Route(f"{base}/{{job_id}}", get_job, methods=["GET"]),
        Route(f"{base}/{{job_id}}", stop_job, methods=["PUT"]),
        Route(f"{base}/{{job_id}}/log", job_log, methods=["GET"]),
    ]


routes = [
    *_endpoints(gc.KIND, "/api/v2.0/system/gc"),
    *_endpoints(audit.PURGE_KIND, "/api/v2.0/system/purgeaudit"),
]
