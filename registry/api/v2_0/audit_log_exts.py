"""/auditlog-exts and /auditlog-exts/events: Harbor's extended audit log over Berth's audit
records."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import harbor_endpoint, json_response
from registry.api.v2_0.listing import paged_list
from registry.api.v2_0.security import authenticated, backends
from registry.services import audit_log
from registry.services.audit import AuditEvent
from registry.services.audit_events import EVENT_TYPES
from registry.services.audit_forward import describe


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    event = AuditEvent(row["operation"], row["resource_type"], row["resource"], row["username"])
    return {
        "id": row["id"],
        "username": row["username"],
        "resource": row["resource"],
        "resource_type": row["resource_type"],
        "operation": row["operation"],
        "operation_description": describe(event),
        # Berth records what was done, never an attempt that failed.
        "operation_result": True,
        "op_time": row["op_time"],
    }


@harbor_endpoint
async def list_logs(request: Request) -> Response:
    principal = await authenticated(request)
    return await paged_list(
        request,
        lambda query: audit_log.list_audit_logs(backends(request), principal, query),
        _to_json,
    )


@harbor_endpoint
async def event_types(request: Request) -> Response:
    await authenticated(request)
    return json_response([{"event_type": name} for name in EVENT_TYPES])


routes = [
    Route("/api/v2.0/auditlog-exts", list_logs, methods=["GET"]),
    Route("/api/v2.0/auditlog-exts/events", event_types, methods=["GET"]),
]
