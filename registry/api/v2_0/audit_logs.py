"""/audit-logs and /projects/{project}/logs."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint
from registry.api.v2_0.listing import paged_list
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
    return await paged_list(
        request,
        lambda query: audit_log.list_audit_logs(backends(request), principal, query),
        _to_json,
    )


@harbor_endpoint
async def project_logs(request: Request) -> Response:
    project = await project_for(request, Action.READ_LOGS)
    return await paged_list(
        request,
        lambda query: audit_log.list_project_logs(backends(request), project, query),
        _to_json,
    )
