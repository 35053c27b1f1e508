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
    read_object,
)
from registry.api.v2_0.listing import paged_list
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.rbac import Action
from registry.services import immutable_rule
from registry.services.immutability import ACTION


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


@harbor_endpoint
async def list_rules(request: Request) -> Response:
    # Harbor shows the rules to those who may change them (maintainers and up).
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    return await paged_list(
        request,
        lambda query: immutable_rule.list_rules(backends(request), project, query),
        _to_json,
    )


@harbor_endpoint
async def create_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    body = await read_object(request)
    actor = await principal_of(request)
    rule_id = await immutable_rule.create_rule(backends(request), actor, project, body)
    return created(f"/api/v2.0/projects/{project.id}/immutabletagrules/{rule_id}")


@harbor_endpoint
async def update_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    rule_id = int_path(request, "immutable_rule_id")
    b = backends(request)
    await immutable_rule.get_rule(b, project, rule_id)  # 404 before the body is read
    body = await read_object(request)
    actor = await principal_of(request)
    await immutable_rule.update_rule(b, actor, project, rule_id, body)
    return Response(status_code=200)


@harbor_endpoint
async def delete_rule(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_IMMUTABLE_RULES)
    rule_id = int_path(request, "immutable_rule_id")
    actor = await principal_of(request)
    await immutable_rule.delete_rule(backends(request), actor, project, rule_id)
    return Response(status_code=200)


_RULES = "/api/v2.0/projects/{project_name_or_id}/immutabletagrules"

routes = [
    Route(_RULES, list_rules, methods=["GET"]),
    Route(_RULES, create_rule, methods=["POST"]),
    Route(f"{_RULES}/{{immutable_rule_id}}", update_rule, methods=["PUT"]),
    Route(f"{_RULES}/{{immutable_rule_id}}", delete_rule, methods=["DELETE"]),
]
