"""Managing a project's immutable tag rules (what they protect is decided in
:mod:`registry.services.immutability`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import immutable_rules
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    ResourceExists,
    RuleInvalid,
    RuleUnknown,
)
from registry.services.immutability import ACTION, TEMPLATE, validate_selectors

_CONFLICT = "the project already has an immutable tag rule with these selectors"


def rule_fields(body: dict[str, Any], current: asyncpg.Record | None) -> dict[str, Any]:
    """The stored fields of the rule ``body`` (Harbor's JSON) describes; what it leaves out
    stays as ``current`` has it (an update may send only ``disabled``)."""
    if body.get("action") not in (None, "", ACTION):
        raise InvalidRequest(f"action must be {ACTION!r}")
    if body.get("template") not in (None, "", TEMPLATE):
        raise InvalidRequest(f"template must be {TEMPLATE!r}")
    disabled = body.get("disabled", False if current is None else current["disabled"])
    if not isinstance(disabled, bool):
        raise InvalidRequest("disabled must be a boolean")
    priority = body.get("priority", 0 if current is None else current["priority"])
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 2**31 - 1:
        raise InvalidRequest("priority must be an integer")

    def given_or_current(name: str) -> Any:
        return body.get(name) if name in body or current is None else current[name]

    try:
        tag_selectors, scope_selectors = validate_selectors(
            given_or_current("tag_selectors"), given_or_current("scope_selectors")
        )
    except RuleInvalid as exc:
        raise InvalidRequest(exc.message) from None
    return {
        "disabled": disabled,
        "priority": priority,
        "tag_selectors": tag_selectors,
        "scope_selectors": scope_selectors,
    }


async def _audit(
    b: Backends, operation: str, project: ProjectRef, rule_id: int, actor: Principal
) -> None:
    await b.audit.record(
        AuditEvent(operation, "immutable_rule", f"{project.name}:{rule_id}", actor.name, project.id)
    )


async def list_rules(
    b: Backends, project: ProjectRef, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await immutable_rules.list_for_project(b.db, project.id, query)


async def create_rule(
    b: Backends, actor: Principal, project: ProjectRef, body: dict[str, Any]
) -> int:
    rule_id = await immutable_rules.create(b.db, project.id, **rule_fields(body, None))
    if rule_id is None:
        raise ResourceExists(_CONFLICT)
    await _audit(b, "create", project, rule_id, actor)
    return rule_id


async def get_rule(b: Backends, project: ProjectRef, rule_id: int) -> asyncpg.Record:
    current = await immutable_rules.get(b.db, project.id, rule_id)
    if current is None:
        raise RuleUnknown(rule_id)
    return current


async def update_rule(
    b: Backends, actor: Principal, project: ProjectRef, rule_id: int, body: dict[str, Any]
) -> None:
    fields = rule_fields(body, await get_rule(b, project, rule_id))
    updated = await immutable_rules.update(b.db, project.id, rule_id, **fields)
    if updated is None:
        raise ResourceExists(_CONFLICT)
    if not updated:
        raise RuleUnknown(rule_id)
    await _audit(b, "update", project, rule_id, actor)


async def delete_rule(b: Backends, actor: Principal, project: ProjectRef, rule_id: int) -> None:
    if not await immutable_rules.delete(b.db, project.id, rule_id):
        raise RuleUnknown(rule_id)
    await _audit(b, "delete", project, rule_id, actor)
