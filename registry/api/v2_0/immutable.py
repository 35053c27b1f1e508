"""/projects/{project}/immutabletagrules: which tags of which repositories may not change."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.endpoint import (
    created,
    harbor_endpoint,
    int_path,
    json_response,
    read_object,
)
from registry.api.v2_0.errors import BadRequest, Conflict, NotFound
from registry.api.v2_0.listing import SqlFilter, list_headers, page_of, parse_query
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.db import immutable_rules
from registry.rbac import Action, ProjectRef
from registry.services.audit import AuditEvent
from registry.services.immutability import ACTION, TEMPLATE, RuleInvalid, validate_selectors

_COLUMNS = {
    "id": ("id", "bigint"),
    "priority": ("priority", "int"),
    "disabled": ("disabled", "bool"),
    "creation_time": ("created_at", "timestamptz"),
    "update_time": ("updated_at", "timestamptz"),
}

_CONFLICT = "the project already has an immutable tag rule with these selectors"


def _to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "priority": row["priority"],
        "disabled": row["disabled"],
        "action": ACTION,
        "template": row["template"],
        "params": {},
        "tag_selectors": row["tag_selectors"],
        "scope_selectors": row["scope_selectors"],
    }


def _rule_fields(body: dict[str, Any], current: asyncpg.Record | None) -> dict[str, Any]:
    """The stored fields of the rule ``body`` describes; what it leaves out stays as
    ``current`` has it (an update may send only ``disabled``)."""
    if body.get("action") not in (None, "", ACTION):
        raise BadRequest(f"action must be {ACTION!r}")
    if body.get("template") not in (None, "", TEMPLATE):
        raise BadRequest(f"template must be {TEMPLATE!r}")
    disabled = body.get("disabled", False if current is None else current["disabled"])
    if not isinstance(disabled, bool):
        raise BadRequest("disabled must be a boolean")
    priority = body.get("priority", 0 if current is None else current["priority"])
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 2**31 - 1:
        raise BadRequest("priority must be an integer")

    def given_or_current(name: str) -> Any:
        return body.get(name) if name in body or current is None else current[name]

    try:
        tag_selectors, scope_selectors = validate_selectors(
            given_or_current("tag_selectors"), given_or_current("scope_selectors")
        )
    except RuleInvalid as exc:
        raise BadRequest(exc.message) from None
    return {
        "disabled": disabled,
        "priority": priority,
        "tag_selectors": tag_selectors,
        "scope_selectors": scope_selectors,
    }


async def _audit(
    request: Request, operation: str, project: ProjectRef, rule_id: int, who: str
) -> None:
    await backends(request).audit.record(
        AuditEvent(operation, "immutable_rule", f"{project.name}:{rule_id}", who, project.id)
    )


@harbor_endpoint
async def list_rules(request: Request) -> Response:
    # Harbor shows the rules to those who may change them (maintainers and up).
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    page = page_of(request)
    sql = SqlFilter(_COLUMNS)
    sql.add(f"project_id = {sql.param(project.id)}")
    sql.apply_query(parse_query(request.query_params.get("q")))
    rows, total = await immutable_rules.list_for_project(
        backends(request).db,
        sql.where(),
        sql.order_by(request.query_params.get("sort"), "id"),
        sql.params,
        page.page_size,
        page.offset,
    )
    return json_response([_to_json(r) for r in rows], headers=list_headers(request, page, total))


@harbor_endpoint
async def create_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    fields = _rule_fields(await read_object(request), None)
    rule_id = await immutable_rules.create(backends(request).db, project.id, **fields)
    if rule_id is None:
        raise Conflict(_CONFLICT)
    await _audit(request, "create", project, rule_id, (await principal_of(request)).name)
    return created(f"/api/v2.0/projects/{project.id}/immutabletagrules/{rule_id}")


@harbor_endpoint
async def update_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    rule_id = int_path(request, "immutable_rule_id")
    db = backends(request).db
    current = await immutable_rules.get(db, project.id, rule_id)
    if current is None:
        raise NotFound(f"immutable tag rule {rule_id} not found")
    fields = _rule_fields(await read_object(request), current)
    updated = await immutable_rules.update(db, project.id, rule_id, **fields)
    if updated is None:
        raise Conflict(_CONFLICT)
    if not updated:
        raise NotFound(f"immutable tag rule {rule_id} not found")
    await _audit(request, "update", project, rule_id, (await principal_of(request)).name)
    return Response(status_code=200)


@harbor_endpoint
async def delete_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    rule_id = int_path(request, "immutable_rule_id")
    if not await immutable_rules.delete(backends(request).db, project.id, rule_id):
        raise NotFound(f"immutable tag rule {rule_id} not found")
    await _audit(request, "delete", project, rule_id, (await principal_of(request)).name)
    return Response(status_code=200)


_RULES = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules"

routes = [
    Route(_RULES, list_rules, methods=["GET"]),
    Route(_RULES, create_rule, methods=["POST"]),
    Route(f"{_RULES}/{{immutable_rule_id}}", update_rule, methods=["PUT"]),
    Route(f"{_RULES}/{{immutable_rule_id}}", delete_rule, methods=["DELETE"]),
]
