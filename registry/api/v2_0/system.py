"""/ping, /health, /systeminfo and /configurations."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.errors import Unauthorized
from registry.api.v2_0.listing import SqlFilter
from registry.api.v2_0.projects import visible_to
from registry.api.v2_0.security import backends, principal_of, sysadmin
from registry.services.audit import AuditEvent
from registry.services.configuration import for_display
from registry.services.health import system_health

VERSION = "v2.0.0-berth"


async def ping(request: Request) -> Response:
    return PlainTextResponse("Pong")


@harbor_endpoint
async def health(request: Request) -> Response:
    """Harbor's health document: overall status and each component with its error. Checks run
    at once, each bounded, so a frozen dependency cannot hold the answer; 503 unless every
    component is healthy (load balancers and Kubernetes probes read the status code)."""
    report = await system_health(backends(request))
    return json_response(report, status=200 if report["status"] == "healthy" else 503)


@harbor_endpoint
async def systeminfo(request: Request) -> Response:
    b = backends(request)
    config = await b.config.get()
    principal = await principal_of(request)
    body: dict[str, Any] = {
        "auth_mode": config["auth_mode"],
        "self_registration": config["self_registration"],
        "harbor_version": VERSION,
        "registry_url": b.settings.external_url or "",
        "read_only": config["read_only"],
        "with_chartmuseum": False,
    }
    if not principal.anonymous:
        body["project_creation_restriction"] = config["project_creation_restriction"]
    return json_response(body)


@harbor_endpoint
async def get_configurations(request: Request) -> Response:
    await sysadmin(request)
    return json_response(for_display(await backends(request).config.get()))


@harbor_endpoint
async def put_configurations(request: Request) -> Response:
    principal = await sysadmin(request)
    body = await read_object(request)
    b = backends(request)
    await b.config.update(body)
    await b.identity.changed()
    # Record which keys changed, never their values: some are secrets.
    await b.audit.record(
        AuditEvent("update", "configuration", ",".join(sorted(body)), principal.name)
    )
    return Response(status_code=200)


@harbor_endpoint
async def statistics(request: Request) -> Response:
    principal = await principal_of(request)
    if principal.anonymous:
        raise Unauthorized("authentication required")
    db = backends(request).db
    sql = SqlFilter({})
    visible_to(principal, sql)
    where = sql.where()
    row = await db.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE p.public) AS public_project_count,
               count(*) FILTER (WHERE NOT p.public) AS private_project_count,
               count(*) AS total_project_count,
               COALESCE(sum(rc.n) FILTER (WHERE p.public), 0) AS public_repo_count,
               COALESCE(sum(rc.n) FILTER (WHERE NOT p.public), 0) AS private_repo_count,
               COALESCE(sum(rc.n), 0) AS total_repo_count
        FROM projects p
        LEFT JOIN LATERAL (SELECT count(*) AS n FROM repositories r WHERE r.project_id = p.id) rc
          ON true
        {where}
        """,  # noqa: S608 — placeholders only
        *sql.params,
    )
    assert row is not None
    body = {k: int(v) for k, v in dict(row).items()}
    if principal.sysadmin:
        body["total_storage_consumption"] = int(
            await db.fetchval("SELECT COALESCE(sum(size), 0) FROM blobs")
        )
    return json_response(body)


@harbor_endpoint
async def search(request: Request) -> Response:
    principal = await principal_of(request)
    text = request.query_params.get("q", "")
    db = backends(request).db
    sql = SqlFilter({})
    visible_to(principal, sql)
    sql.add(f"p.name ILIKE '%' || {sql.param(text)} || '%'")
    projects = await db.fetch(
        f"SELECT p.id, p.name, p.public, p.created_at FROM projects p {sql.where()} "  # noqa: S608
        "ORDER BY p.name LIMIT 100",
        *sql.params,
    )
    sql = SqlFilter({})
    visible_to(principal, sql)
    sql.add(f"r.name ILIKE '%' || {sql.param(text)} || '%'")
    repos = await db.fetch(
        f"""
        SELECT r.name, r.pull_count, p.id AS project_id, p.name AS project_name, p.public,
               (SELECT count(*) FROM artifacts a WHERE a.repository_id = r.id) AS artifact_count
        FROM repositories r JOIN projects p ON p.id = r.project_id {sql.where()}
        ORDER BY r.name LIMIT 100
        """,  # noqa: S608 — placeholders only
        *sql.params,
    )
    return json_response(
        {
            "project": [
                {
                    "project_id": p["id"],
                    "name": p["name"],
                    "creation_time": p["created_at"],
                    "metadata": {"public": "true" if p["public"] else "false"},
                }
                for p in projects
            ],
            "repository": [
                {
                    "repository_name": r["name"],
                    "project_id": r["project_id"],
                    "project_name": r["project_name"],
                    "project_public": r["public"],
                    "pull_count": r["pull_count"],
                    "artifact_count": r["artifact_count"],
                }
                for r in repos
            ],
        }
    )
