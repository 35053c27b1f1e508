"""/audit-logs and /projects/{project}/logs."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import authenticated, backends, project_for
from registry.rbac import Action
from registry.services import audit_log


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "resource": row["resource"],
        "resource_type": row["resource_type"],
        "operation": row["operation"],
        "username": row["username"],
        "op_time": row["op_time"],
    }


@harbor_endpoint
async def list_audit_logs(request: Request) -> Response:
    principal = await authenticated(request)
    query = list_query(request)
    rows, total = await audit_log.list_audit_logs(backends(request), principal, query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))


@harbor_endpoint
async def project_logs(request: Request) -> Response:
    project = await project_for(request, Action.READ_LOGS)
    query = list_query(request)
    rows, total = await audit_log.list_project_logs(backends(request), project, query)
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, query, total))
