"""/replication/policies and /replication/executions (Harbor's shapes), and ``/api/version``
which Harbor's own replication adapter asks a remote Harbor first.

System administrators only, as in Harbor.
"""

from __future__ import annotations

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
    parse_id,
    read_object,
)
from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.registries import registry_json
from registry.api.v2_0.security import backends, sysadmin
from registry.services import (
    replication,
    replication_policy,
    replication_registry,
    replication_trigger,
)
from registry.services.context import Backends

# Job states as Harbor's API names them for replication tasks.
_TASK_STATUS = {"Running": "InProgress", "Success": "Succeed", "Error": "Failed"}


def _local_registry(b: Backends) -> dict[str, Any]:
    return {
        "id": 0,
        "name": "Local",
        "type": "harbor",
        "url": b.settings.external_url or f"http://{b.settings.host}:{b.settings.port}",
        "insecure": True,
        "credential": {"type": "basic", "access_key": "", "access_secret": ""},
        "status": "healthy",
    }


async def _side(b: Backends, registry_id: int | None) -> dict[str, Any]:
    if registry_id is None:
        return _local_registry(b)
    return registry_json(await replication_registry.get_registry(b, registry_id))


async def _policy_json(b: Backends, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "src_registry": await _side(b, row["src_registry_id"]),
        "dest_registry": await _side(b, row["dest_registry_id"]),
        "dest_namespace": row["dest_namespace"],
        "dest_namespace_replace_count": row["dest_namespace_replace_count"],
        "filters": row["filters"],
        "trigger": row["trigger"],
        "replicate_deletion": row["replicate_deletion"],
        "deletion": row["replicate_deletion"],
        "override": row["override"],
        "enabled": row["enabled"],
        "speed": row["speed"],
        "copy_by_chunk": row["copy_by_chunk"],
        "single_active_replication": row["single_active_replication"],
        "creator": row["creator"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


def _execution_json(row: asyncpg.Record) -> dict[str, Any]:
    body = {
        "id": row["id"],
        "policy_id": row["policy_id"],
        "status": row["status"],
        "status_text": row["status_text"],
        "trigger": row["trigger"],
        "start_time": row["start_time"],
        "total": row["total"],
        "failed": row["failed"],
        "succeed": row["succeed"],
        "in_progress": row["in_progress"],
        "stopped": row["stopped"],
    }
    if row["end_time"] is not None:
        body["end_time"] = row["end_time"]
    return body


def _task_json(row: asyncpg.Record) -> dict[str, Any]:
    status = row["status"] or "Pending"
    body = {
        "id": row["id"],
        "execution_id": row["execution_id"],
        "status": _TASK_STATUS.get(status, status),
        "job_id": str(row["job_id"] or ""),
        "operation": row["operation"],
        "resource_type": row["resource_type"],
        "src_resource": row["src_resource"],
        "dst_resource": row["dst_resource"],
        "attempts": row["attempts"] or 0,
    }
    if row["started_at"] is not None:
        body["start_time"] = row["started_at"]
    if row["ended_at"] is not None:
        body["end_time"] = row["ended_at"]
    return body


# --- policies ----------------------------------------------------------------------------------


@harbor_endpoint
async def list_policies(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request)
    b = backends(request)
    rows, total = await replication_policy.list_policies(b, query)
    body = [await _policy_json(b, r) for r in rows]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def create_policy(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    policy_id = await replication_policy.create_policy(backends(request), principal, body)
    return created(f"/api/v2.0/replication/policies/{policy_id}")


@harbor_endpoint
async def get_policy(request: Request) -> Response:
    await sysadmin(request)
    b = backends(request)
    row = await replication_policy.get_policy(b, int_path(request, "id"))
    return json_response(await _policy_json(b, row))


@harbor_endpoint
async def update_policy(request: Request) -> Response:
    principal = await sysadmin(request)
    policy_id = int_path(request, "id")
    body = await read_object(request)
    await replication_policy.update_policy(backends(request), principal, policy_id, body)
    return Response(status_code=200)


@harbor_endpoint
async def delete_policy(request: Request) -> Response:
    principal = await sysadmin(request)
    policy_id = int_path(request, "id")
    await replication_policy.delete_policy(backends(request), principal, policy_id)
    return Response(status_code=200)


# --- executions --------------------------------------------------------------------------------


def _optional_id(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    value = parse_id(text)
    if value is None:
        raise BadRequest(f"{name} must be a positive integer")
    return value


@harbor_endpoint
async def list_executions(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request)
    rows, total = await replication.list_executions(
        backends(request),
        query,
        _optional_id(request, "policy_id"),
        request.query_params.get("status") or None,
        request.query_params.get("trigger") or None,
    )
    return json_response(
        [_execution_json(r) for r in rows], headers=list_headers(request, query, total)
    )


@harbor_endpoint
async def start_execution(request: Request) -> Response:
    await sysadmin(request)
    body = await read_object(request)
    policy_id = body.get("policy_id")
    if not isinstance(policy_id, int) or isinstance(policy_id, bool) or policy_id <= 0:
        raise BadRequest("policy_id must be a positive integer")
    execution_id = await replication_trigger.start_execution(backends(request), policy_id)
    return created(f"/api/v2.0/replication/executions/{execution_id}")


@harbor_endpoint
async def get_execution(request: Request) -> Response:
    await sysadmin(request)
    row = await replication.get_execution(backends(request), int_path(request, "id"))
    return json_response(_execution_json(row))


@harbor_endpoint
async def stop_execution(request: Request) -> Response:
    await sysadmin(request)
    await replication.stop_execution(backends(request), int_path(request, "id"))
    return Response(status_code=200)


@harbor_endpoint
async def retry_execution(request: Request) -> Response:
    await sysadmin(request)
    execution_id = int_path(request, "id")
    retried = await replication.retry_failed_tasks(backends(request), execution_id)
    return json_response({"execution_id": execution_id, "retried_tasks": len(retried)})


@harbor_endpoint
async def list_tasks(request: Request) -> Response:
    await sysadmin(request)
    query = list_query(request, filters=None)
    rows, total = await replication.list_tasks(backends(request), int_path(request, "id"), query)
    return json_response([_task_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def task_log(request: Request) -> Response:
    await sysadmin(request)
    text = await replication.task_log(
        backends(request), int_path(request, "id"), int_path(request, "task_id")
    )
    return PlainTextResponse(text)


async def api_version(request: Request) -> Response:
    """What Harbor's adapter asks to learn the API version a remote Harbor speaks."""
    return json_response({"version": "v2.0"})


_P = "/api/v2.0/replication/policies"
_E = "/api/v2.0/replication/executions"

routes = [
    Route("/api/version", api_version, methods=["GET"]),
    Route(_P, list_policies, methods=["GET"]),
    Route(_P, create_policy, methods=["POST"]),
    Route(f"{_P}/{{id}}", get_policy, methods=["GET"]),
    Route(f"{_P}/{{id}}", update_policy, methods=["PUT"]),
    Route(f"{_P}/{{id}}", delete_policy, methods=["DELETE"]),
    Route(_E, list_executions, methods=["GET"]),
    Route(_E, start_execution, methods=["POST"]),
    Route(f"{_E}/{{id}}", get_execution, methods=["GET"]),
    Route(f"{_E}/{{id}}", stop_execution, methods=["PUT"]),
    Route(f"{_E}/{{id}}/retry", retry_execution, methods=["POST"]),
    Route(f"{_E}/{{id}}/tasks", list_tasks, methods=["GET"]),
    Route(f"{_E}/{{id}}/tasks/{{task_id}}/log", task_log, methods=["GET"]),
]
