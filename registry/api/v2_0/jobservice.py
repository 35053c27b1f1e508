"""/jobservice (worker pools, workers, jobs, queues) and /schedules, as Harbor's job service
answers them (system administrators only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, parse_id, read_object
from registry.api.v2_0.errors import BadRequest, NotFound
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, sysadmin
from registry.services import jobservice


@harbor_endpoint
async def list_pools(request: Request) -> Response:
    await sysadmin(request)
    return json_response(
        [
            {
                "pid": p.pid,
                "worker_pool_id": p.pool_id,
                "start_at": p.started_at,
                "heartbeat_at": p.beat_at,
                "concurrency": p.concurrency,
                "host": p.host,
            }
            for p in await jobservice.pools(backends(request))
        ]
    )


@harbor_endpoint
async def list_workers(request: Request) -> Response:
    await sysadmin(request)
    slots = await jobservice.workers(backends(request), request.path_params["pool_id"])
    return json_response(
        [
            {
                "id": s.worker_id,
                "job_name": s.job_name,
                "job_id": s.job_id,
                "start_at": s.started_at,
                "check_in": "",
                "checkin_at": s.checkin_at,
                "pool_id": s.pool_id,
            }
            for s in slots
        ]
    )


def _job_id(request: Request) -> int:
    text = str(request.path_params["job_id"])
    job_id = parse_id(text)
    if job_id is None:
        raise NotFound(f"no job {text}")
    return job_id


@harbor_endpoint
async def stop_job(request: Request) -> Response:
    principal = await sysadmin(request)
    await jobservice.stop_job(backends(request), principal, _job_id(request))
    return Response(status_code=200)


@harbor_endpoint
async def job_log(request: Request) -> Response:
    await sysadmin(request)
    return PlainTextResponse(await jobservice.job_log(backends(request), _job_id(request)))


@harbor_endpoint
async def list_queues(request: Request) -> Response:
    await sysadmin(request)
    return json_response(
        [
            {"job_type": q.job_type, "count": q.count, "latency": q.latency, "paused": q.paused}
            for q in await jobservice.queues(backends(request))
        ]
    )


@harbor_endpoint
async def act_on_queue(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    action = body.get("action")
    if not isinstance(action, str):
        raise BadRequest("action is required: stop, pause or resume")
    await jobservice.act_on_queue(
        backends(request), principal, request.path_params["job_type"], action
    )
    return Response(status_code=200)


@harbor_endpoint
async def list_schedules(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request, filters=None)
    tasks, total = await jobservice.schedules(backends(request), query)
    body = [
        {
            "id": t.schedule_id,
            "vendor_type": t.vendor_type,
            "vendor_id": t.vendor_id,
            "extra_attrs": t.extra_attrs,
            "cron": t.cron,
            "update_time": t.updated_at,
        }
        for t in tasks
    ]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def schedule_paused(request: Request) -> Response:
    await sysadmin(request)
    paused = await jobservice.schedule_paused(backends(request), request.path_params["job_type"])
    return json_response({"paused": paused})


_J = "/api/v2.0/jobservice"
routes = [
    Route(f"{_J}/pools", list_pools, methods=["GET"]),
    Route(f"{_J}/pools/{{pool_id}}/workers", list_workers, methods=["GET"]),
    Route(f"{_J}/jobs/{{job_id}}", stop_job, methods=["PUT"]),
    Route(f"{_J}/jobs/{{job_id}}/log", job_log, methods=["GET"]),
    Route(f"{_J}/queues", list_queues, methods=["GET"]),
    Route(f"{_J}/queues/{{job_type}}", act_on_queue, methods=["PUT"]),
    Route("/api/v2.0/schedules", list_schedules, methods=["GET"]),
    Route("/api/v2.0/schedules/{job_type}/paused", schedule_paused, methods=["GET"]),
]
