"""/projects/{project}/webhook/…: webhook policies, their executions (delivery jobs) and logs.

Every route needs the project admin's right to manage webhooks (system administrators have
it everywhere). A target's ``auth_header`` is write-only: it is never shown, and a target sent
back without it keeps the header it had.
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
from registry.api.v2_0.errors import NotFound
from registry.api.v2_0.listing import list_headers, list_query, paged_list
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.events import EVENT_TYPES, NOTIFY_TYPES, PAYLOAD_FORMATS, SLACK
from registry.rbac import Action, ProjectRef
from registry.services import webhook_policy
from registry.services.webhook import public_target

_STATUSES = ("Pending", "Running", "Success", "Error", "Stopped")


def _policy_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "project_id": row["project_id"],
        "targets": [public_target(t) for t in row["targets"]],
        "event_types": list(row["event_types"]),
        "creator": row["creator"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
        "enabled": row["enabled"],
    }


def _times(**values: Any) -> dict[str, Any]:
    """Timestamps that are set (a job that has not started has no start time)."""
    return {k: v for k, v in values.items() if v is not None}


def _execution_json(row: asyncpg.Record) -> dict[str, Any]:
    parameters = row["parameters"] or {}
    target = parameters.get("target") or {}
    metrics = {f"{s.lower()}_task_count": int(s == row["status"]) for s in _STATUSES}
    return {
        "id": row["id"],
        "vendor_type": "SLACK" if target.get("type") == SLACK else "WEBHOOK",
        "vendor_id": parameters.get("policy_id"),
        "status": row["status"],
        "status_message": "",
        "metrics": {"task_count": 1, "scheduled_task_count": 0, **metrics},
        "trigger": row["trigger"],
        "extra_attrs": {
            "event_type": parameters.get("event_type", ""),
            "payload": parameters.get("body", ""),
        },
        **_times(start_time=row["started_at"], end_time=row["ended_at"]),
    }


def _task_json(row: asyncpg.Record) -> dict[str, Any]:
    # An execution here is one delivery to one target: its one task is the job itself.
    parameters = row["parameters"] or {}
    return {
        "id": row["id"],
        "execution_id": row["id"],
        "status": row["status"],
        "status_message": "",
        "run_count": row["attempts"],
        "extra_attrs": {"event_type": parameters.get("event_type", "")},
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
        **_times(start_time=row["started_at"], end_time=row["ended_at"]),
    }


async def _policy(request: Request) -> tuple[ProjectRef, asyncpg.Record]:
    project = await project_for(request, Action.MANAGE_WEBHOOKS)
    policy_id = int_path(request, "webhook_policy_id")
    return project, await webhook_policy.get_policy(backends(request), project, policy_id)


async def _execution(request: Request) -> asyncpg.Record:
    _, policy = await _policy(request)
    execution_id = int_path(request, "execution_id")
    return await webhook_policy.get_delivery(backends(request), policy, execution_id)


@harbor_endpoint
async def list_policies(request: Request) -> Response:
    project = await project_for(request, Action.LIST_WEBHOOKS)
    return await paged_list(
        request,
        lambda query: webhook_policy.list_policies(backends(request), project, query),
        _policy_json,
    )


@harbor_endpoint
async def create_policy(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_WEBHOOKS)
    body = await read_object(request)
    principal = await principal_of(request)
    policy_id = await webhook_policy.create_policy(backends(request), principal, project, body)
    return created(f"/api/v2.0/projects/{project.id}/webhook/policies/{policy_id}")


@harbor_endpoint
async def get_policy(request: Request) -> Response:
    _, row = await _policy(request)
    return json_response(_policy_json(row))


@harbor_endpoint
async def update_policy(request: Request) -> Response:
    project, current = await _policy(request)
    body = await read_object(request)
    principal = await principal_of(request)
    await webhook_policy.update_policy(backends(request), principal, project, current, body)
    return Response(status_code=200)


@harbor_endpoint
async def delete_policy(request: Request) -> Response:
    project, current = await _policy(request)
    principal = await principal_of(request)
    await webhook_policy.delete_policy(backends(request), principal, project, current)
    return Response(status_code=200)


@harbor_endpoint
async def list_executions(request: Request) -> Response:
    _, policy = await _policy(request)
    query = list_query(request)
    rows, total = await webhook_policy.list_deliveries(backends(request), policy, query)
    body = [_execution_json(r) for r in rows]
    return json_response(body, headers=list_headers(request, query, total))


@harbor_endpoint
async def list_tasks(request: Request) -> Response:
    return json_response([_task_json(await _execution(request))], headers={"X-Total-Count": "1"})


@harbor_endpoint
async def task_log(request: Request) -> Response:
    row = await _execution(request)
    if int_path(request, "task_id") != row["id"]:
        raise NotFound("task not found")
    return PlainTextResponse(await webhook_policy.delivery_log(backends(request), row))


@harbor_endpoint
async def supported_events(request: Request) -> Response:
    await project_for(request, Action.MANAGE_WEBHOOKS)
    return json_response(
        {
            "event_type": list(EVENT_TYPES),
            "notify_type": list(NOTIFY_TYPES),
            "payload_formats": [
                {"notify_type": kind, "formats": list(formats)}
                for kind, formats in PAYLOAD_FORMATS.items()
            ],
        }
    )


@harbor_endpoint
async def last_trigger(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_WEBHOOKS)
    rows = await webhook_policy.last_triggers(backends(request), project)
    return json_response(
        [
            {
                "policy_name": r["policy_name"],
                "event_type": r["event_type"],
                "enabled": r["enabled"],
                "creation_time": r["created_at"],
                **_times(last_trigger_time=r["last_trigger_time"]),
            }
            for r in rows
        ]
    )


_W = "/api/v2.0/projects/{project_name_or_id}/webhook"
_POLICY = f"{_W}/policies/{{webhook_policy_id}}"
_EXECUTION = f"{_POLICY}/executions/{{execution_id}}"

routes = [
    Route(f"{_W}/policies", list_policies, methods=["GET"]),
    Route(f"{_W}/policies", create_policy, methods=["POST"]),
    Route(_POLICY, get_policy, methods=["GET"]),
    Route(_POLICY, update_policy, methods=["PUT"]),
    Route(_POLICY, delete_policy, methods=["DELETE"]),
    Route(f"{_POLICY}/executions", list_executions, methods=["GET"]),
    Route(f"{_EXECUTION}/tasks", list_tasks, methods=["GET"]),
    Route(f"{_EXECUTION}/tasks/{{task_id}}/log", task_log, methods=["GET"]),
    Route(f"{_W}/events", supported_events, methods=["GET"]),
    Route(f"{_W}/lasttrigger", last_trigger, methods=["GET"]),
]
