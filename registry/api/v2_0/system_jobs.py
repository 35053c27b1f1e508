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
from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, sysadmin
from registry.services import audit, gc, system_job
from registry.services import jobs as job_service


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
    if kind == gc.KIND:
        return system_job.gc_parameters(raw)
    return system_job.purge_parameters(raw)


def _endpoints(kind: str, base: str) -> list[Route]:
    @harbor_endpoint
    async def history(request: Request) -> Response:
        await sysadmin(request)
        query = list_query(request, filters=None)
        b = backends(request)
        rows, total = await job_service.list_jobs(b, [kind], query)
        schedule = await job_service.get_schedule(b, kind, system_job.OWNER)
        body = [_job_json(r, schedule if r["trigger"] == "SCHEDULE" else None) for r in rows]
        return json_response(body, headers=list_headers(request, query, total))

    async def _job(request: Request) -> asyncpg.Record:
        await sysadmin(request)
        return await job_service.get_job(backends(request), int_path(request, "job_id"), kind)

    @harbor_endpoint
    async def get_job(request: Request) -> Response:
        return json_response(_job_json(await _job(request), None))

    @harbor_endpoint
    async def job_log(request: Request) -> Response:
        row = await _job(request)
        return PlainTextResponse(await job_service.job_log(backends(request), row["id"]))

    @harbor_endpoint
    async def stop_job(request: Request) -> Response:
        row = await _job(request)
        await job_service.stop(backends(request), row["id"])
        return Response(status_code=200)

    @harbor_endpoint
    async def get_schedule(request: Request) -> Response:
        await sysadmin(request)
        row = await job_service.get_schedule(backends(request), kind, system_job.OWNER)
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
            job_id = await system_job.run_now(b, principal, kind, parameters)
            return created(f"{base}/{job_id}")
        await system_job.set_schedule(
            b, principal, kind, schedule["type"], schedule.get("cron"), parameters
        )
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
