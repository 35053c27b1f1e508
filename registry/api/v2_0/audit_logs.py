"""/audit-logs and /projects/{project}/logs."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response
from registry.api.v2_0.listing import SqlFilter, list_headers, page_of, parse_query
from registry.api.v2_0.security import authenticated, backends, project_for
from registry.auth.principal import PrincipalKind
from registry.rbac import Action

_COLUMNS = {
    "operation": ("a.operation", "text"),
    "resource_type": ("a.resource_type", "text"),
    "resource": ("a.resource", "text"),
    "username": ("a.username", "text"),
    "op_time": ("a.op_time", "timestamptz"),
}

# Projects whose logs a non-admin may read: members with at least guest rights.
_READABLE = """a.project_id IN (
    SELECT m.project_id FROM project_members m
    WHERE m.role <> 5 AND ((m.entity_type = 'u' AND m.entity_id = {user})
                           OR (m.entity_type = 'g' AND m.entity_id = ANY({groups}::bigint[]))))"""


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "resource": row["resource"],
        "resource_type": row["resource_type"],
        "operation": row["operation"],
        "username": row["username"],
        "op_time": row["op_time"],
    }


async def _list(request: Request, sql: SqlFilter) -> Response:
    page = page_of(request)
    sql.apply_query(parse_query(request.query_params.get("q")))
    db = backends(request).db
    n = len(sql.params)
    where, order = sql.where(), sql.order_by(request.query_params.get("sort"), "a.id DESC")
    rows = await db.fetch(
        f"SELECT a.* FROM audit_logs a {where} {order} LIMIT ${n + 1} OFFSET ${n + 2}",  # noqa: S608 — placeholders only
        *sql.params,
        page.page_size,
        page.offset,
    )
    total = await db.fetchval(f"SELECT count(*) FROM audit_logs a {where}", *sql.params)  # noqa: S608
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def list_audit_logs(request: Request) -> Response:
    principal = await authenticated(request)
    await backends(request).audit.flush()
    sql = SqlFilter(_COLUMNS)
    if not principal.sysadmin:
        if principal.kind is not PrincipalKind.USER:
            sql.add("false")
        else:
            user, groups = sql.param(principal.user_id), sql.param(list(principal.group_ids))
            sql.add(_READABLE.format(user=user, groups=groups))
    return await _list(request, sql)


@harbor_endpoint
async def project_logs(request: Request) -> Response:
    project = await project_for(request, Action.READ_LOGS)
    await backends(request).audit.flush()
    sql = SqlFilter(_COLUMNS)
    sql.add(f"a.project_id = {sql.param(project.id)}")
    return await _list(request, sql)
