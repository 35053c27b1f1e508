"""/retentions: tag retention policies, their executions, tasks and task logs (Harbor's API).

A policy belongs to one project (``scope: {"level": "project", "ref": <project id>}``) and is
named in that project's ``retention_id`` metadata. Reading needs read access to the project;
changing a policy, running or stopping it needs project administration (or a system admin).
As in Harbor, every operation needs an authenticated caller.
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
    read_object,
)
from registry.api.v2_0.errors import BadRequest, Conflict, NotFound
from registry.api.v2_0.listing import list_headers, list_query, paged_list
from registry.api.v2_0.security import authenticated, backends, require
from registry.auth.principal import Principal
from registry.rbac import Action, ProjectRef
from registry.services import jobs as job_service
from registry.services import retention
from registry.services.errors import PolicyExists, RetentionPolicyInvalid, RuleConflict
from registry.services.project import find_by_id

_BASE = "/api/v2.0/retentions"
# Harbor's task log time for a time not reached yet (Go's zero time.Time).
_ZERO_TIME = "0001-01-01T00:00:00Z"
# Harbor's job status codes, which order the states.
_STATUS_CODES = {"Pending": 0, "Scheduled": 1, "Running": 2, "Stopped": 3, "Error": 3, "Success": 3}


_MAX_ID = 2**63 - 1  # ids are BIGINT: a larger number names nothing


def _id(request: Request, name: str) -> int:
    value = int_path(request, name)
    if value > _MAX_ID:
        raise NotFound(f"{name} {value} not found")
    return value


def _time(value: Any) -> Any:
    return value if value is not None else _ZERO_TIME


def _execution_json(row: asyncpg.Record) -> dict[str, Any]:
    params = row["parameters"] or {}
    return {
        "id": row["id"],
        "policy_id": int(params.get("policy_id", 0)),
        "start_time": _time(row["started_at"] or row["created_at"]),
        "end_time": _time(row["ended_at"]),
        "status": row["status"],
        "trigger": row["trigger"],
        "dry_run": bool(params.get("dry_run", False)),
    }


def _task_json(row: asyncpg.Record) -> dict[str, Any]:
    params = row["parameters"] or {}
    result = row["result"] or {}
    return {
        "id": row["id"],
        "execution_id": row["parent_id"],
        # Harbor names the repository without its project here.
        "repository": str(params.get("repository", "")).partition("/")[2],
        "job_id": str(row["id"]),
        "status": row["status"],
        "status_code": _STATUS_CODES.get(row["status"], 0),
        "status_revision": int(row["updated_at"].timestamp()),
        "start_time": _time(row["started_at"]),
        "end_time": _time(row["ended_at"]),
        "total": int(result.get("total", 0)),
        "retained": int(result.get("retained", 0)),
    }


async def _project(request: Request, project_id: int) -> ProjectRef | None:
    return await find_by_id(backends(request).db, project_id)


async def _policy(
    request: Request, action: Action
) -> tuple[retention.Policy, ProjectRef, Principal]:
    """The policy named in the path, when the caller may ``action`` in its project."""
    await authenticated(request)
    policy_id = _id(request, "id")
    policy = await retention.load_policy(backends(request), policy_id)
    project = None if policy is None else await _project(request, policy.project_id)
    if policy is None or project is None:
        raise NotFound(f"retention policy {policy_id} not found")
    principal = await require(request, project, action)
    return policy, project, principal


async def _execution(request: Request, action: Action) -> tuple[retention.Policy, asyncpg.Record]:
    policy, _, _ = await _policy(request, action)
    row = await retention.get_execution(backends(request), policy, _id(request, "eid"))
    return policy, row


def _spec(body: dict[str, Any]) -> retention.PolicySpec:
    try:
        return retention.parse_policy(body)
    except RetentionPolicyInvalid as exc:
        raise BadRequest(exc.message) from None
    except RuleConflict as exc:
        raise Conflict(exc.message) from None


# --- policies ---------------------------------------------------------------------------------


@harbor_endpoint
async def get_metadatas(request: Request) -> Response:
    await authenticated(request)
    return json_response(retention.metadata())


@harbor_endpoint
async def create_retention(request: Request) -> Response:
    await authenticated(request)
    body = await read_object(request)
    scope = body.get("scope")
    ref = scope.get("ref") if isinstance(scope, dict) else None
    if isinstance(ref, bool) or not isinstance(ref, int) or not 0 < ref <= _MAX_ID:
        raise BadRequest('scope must be {"level": "project", "ref": <project id>}')
    project = await _project(request, ref)
    if project is None:
        raise BadRequest(f"invalid project id {ref}")
    principal = await require(request, project, Action.MANAGE_PROJECT)
    spec = _spec(body)
    try:
        policy_id = await retention.create_policy(backends(request), principal, project, spec)
    except PolicyExists as exc:
        # Harbor answers 400 here: a client should have read the project's retention_id.
        raise BadRequest(exc.message) from None
    return created(f"{_BASE}/{policy_id}")


@harbor_endpoint
async def get_retention(request: Request) -> Response:
    policy, _, _ = await _policy(request, Action.READ_PROJECT)
    return json_response(policy.to_json())


@harbor_endpoint
async def update_retention(request: Request) -> Response:
    policy, project, principal = await _policy(request, Action.MANAGE_PROJECT)
    spec = _spec(await read_object(request))
    if spec.project_id is not None and spec.project_id != policy.project_id:
        raise BadRequest("a retention policy cannot move to another project")
    await retention.update_policy(backends(request), principal, project, policy, spec)
    return Response(status_code=200)


@harbor_endpoint
async def delete_retention(request: Request) -> Response:
    policy, project, principal = await _policy(request, Action.MANAGE_PROJECT)
    await retention.delete_policy(backends(request), principal, project, policy)
    return Response(status_code=200)


# --- executions -------------------------------------------------------------------------------


@harbor_endpoint
async def trigger_execution(request: Request) -> Response:
    policy, _, _ = await _policy(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be a boolean")
    execution_id = await retention.start_execution(backends(request), policy, dry_run=dry_run)
    return created(f"{_BASE}/{policy.id}/executions/{execution_id}")


@harbor_endpoint
async def list_executions(request: Request) -> Response:
    policy, _, _ = await _policy(request, Action.READ_PROJECT)
    return await paged_list(
        request,
        lambda query: retention.list_executions(backends(request), policy, query),
        _execution_json,
        filters=None,
    )


@harbor_endpoint
async def get_execution(request: Request) -> Response:
    _, row = await _execution(request, Action.READ_PROJECT)
    return json_response(_execution_json(row))


@harbor_endpoint
async def operate_execution(request: Request) -> Response:
    _, row = await _execution(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    if body.get("action") != "stop":
        raise BadRequest("action should be 'stop'")
    # Stopping an execution that has finished already changes nothing, as in Harbor.
    await job_service.stop(backends(request), row["id"])
    return Response(status_code=200)


@harbor_endpoint
async def list_tasks(request: Request) -> Response:
    _, row = await _execution(request, Action.READ_PROJECT)
    query = list_query(request, filters=None)
    b = backends(request)
    tasks, total = await job_service.list_jobs(b, [retention.TASK_KIND], query, row["id"])
    return json_response(
        [_task_json(t) for t in tasks], headers=list_headers(request, query, total)
    )


@harbor_endpoint
async def task_log(request: Request) -> Response:
    _, row = await _execution(request, Action.READ_PROJECT)
    b = backends(request)
    task = await retention.get_task(b, row, _id(request, "tid"))
    return PlainTextResponse(await job_service.job_log(b, task["id"]))


_ID = f"{_BASE}/{{id}}"
_EXECUTION = f"{_ID}/executions/{{eid}}"

routes = [
    # Before /retentions/{id}, which would take "metadatas" for an id.
    Route(f"{_BASE}/metadatas", get_metadatas, methods=["GET"]),
    Route(_BASE, create_retention, methods=["POST"]),
    Route(_ID, get_retention, methods=["GET"]),
    Route(_ID, update_retention, methods=["PUT"]),
    Route(_ID, delete_retention, methods=["DELETE"]),
    Route(f"{_ID}/executions", trigger_execution, methods=["POST"]),
    Route(f"{_ID}/executions", list_executions, methods=["GET"]),
    Route(_EXECUTION, get_execution, methods=["GET"]),
    Route(_EXECUTION, operate_execution, methods=["PATCH"]),
    Route(f"{_EXECUTION}/tasks", list_tasks, methods=["GET"]),
    # Harbor's path for a task's log, and the …/log form the system jobs use.
    Route(f"{_EXECUTION}/tasks/{{tid}}", task_log, methods=["GET"]),
    Route(f"{_EXECUTION}/tasks/{{tid}}/log", task_log, methods=["GET"]),
]
