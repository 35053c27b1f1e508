"""The forms of a project's Tag retention tab that change the policy: add a rule, edit one,
delete one, and set when the policy runs. Each change sends the whole policy through the same
validation and service as the REST API's ``/retentions``; the first rule or schedule creates
the project's policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.portal.endpoint import page, see_other
from registry.portal.forms import path_id, signed_form, whole_number
from registry.portal.pages.project import tab_page
from registry.portal.pages.retention_tab import retention_policy, rule_json
from registry.portal.security import backends, project_page, viewer
from registry.rbac import Action, ProjectRef
from registry.services import cron, retention
from registry.services.errors import RegistryError, ResourceUnknown

# What a change does to the policy's rules and cron: (rules, cron) → (rules, cron).
Change = Callable[[list[dict[str, Any]], str], tuple[list[dict[str, Any]], str]]


def _url(project: ProjectRef, notice: str) -> str:
    return f"/projects/{quote(project.name)}/retention?notice={quote(notice)}"


async def _apply(request: Request, project: ProjectRef, change: Change) -> None:
    """Change the project's policy (creating it when there is none) as the API would."""
    b = backends(request)
    actor = await viewer(request)
    policy = await retention_policy(request, project)
    rules = [r.to_json() for r in policy.rules] if policy is not None else []
    rules, cron_text = change(rules, policy.cron if policy is not None else "")
    spec = retention.parse_policy(
        {
            "algorithm": retention.ALGORITHM,
            "rules": rules,
            "trigger": retention.trigger_json(cron_text),
            "scope": {"level": retention.SCOPE_LEVEL, "ref": project.id},
            "mode": policy.mode if policy is not None else retention.ARTIFACT_MODE,
        }
    )
    if policy is None:
        await retention.create_policy(b, actor, project, spec)
    else:
        await retention.update_policy(b, actor, project, policy, spec)


async def _save_rule(request: Request, position: int | None) -> Response:
    """Add the posted rule (``position`` None) or put it in place of rule ``position``."""
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_PROJECT)
    template = retention.TEMPLATES.get(form.get("template"))
    value = whole_number(form.get("value")) if template is not None and template.unit else 0
    if value is None:
        return await tab_page(
            request,
            project,
            "retention",
            error="Give the rule's count or number of days as a whole number.",
            status=400,
            form=form,
        )
    rule = rule_json(form, value)

    def change(rules: list[dict[str, Any]], cron_text: str) -> tuple[list[dict[str, Any]], str]:
        if position is None:
            return [*rules, rule], cron_text
        if not 1 <= position <= len(rules):
            raise ResourceUnknown(f"rule {position} not found")
        return [*rules[: position - 1], rule, *rules[position:]], cron_text

    try:
        await _apply(request, project, change)
    except RegistryError as exc:
        return await tab_page(request, project, "retention", error=exc, form=form)
    return see_other(_url(project, "Rule added." if position is None else "Rule saved."))


@page
async def add_rule(request: Request) -> Response:
    return await _save_rule(request, None)


@page
async def edit_rule(request: Request) -> Response:
    return await _save_rule(request, path_id(request, "rule_id"))


@page
async def delete_rule(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.MANAGE_PROJECT)
    position = path_id(request, "rule_id")

    def change(rules: list[dict[str, Any]], cron_text: str) -> tuple[list[dict[str, Any]], str]:
        if not 1 <= position <= len(rules):
            raise ResourceUnknown(f"rule {position} not found")
        return [*rules[: position - 1], *rules[position:]], cron_text

    try:
        await _apply(request, project, change)
    except RegistryError as exc:
        return await tab_page(request, project, "retention", error=exc)
    return see_other(_url(project, "Rule deleted."))


@page
async def set_schedule(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_PROJECT)
    try:
        expression = cron.expression_for(form.get("schedule_type", "None"), form.get("cron"))
    except cron.CronInvalid as exc:
        return await tab_page(request, project, "retention", error=f"Schedule: {exc}", status=400)

    def change(rules: list[dict[str, Any]], _: str) -> tuple[list[dict[str, Any]], str]:
        return rules, expression or ""

    try:
        await _apply(request, project, change)
    except RegistryError as exc:
        return await tab_page(request, project, "retention", error=exc)
    return see_other(_url(project, "Schedule saved."))


_BASE = "/projects/{project}/retention"

routes = [
    Route(f"{_BASE}/rules", add_rule, methods=["POST"]),
    Route(f"{_BASE}/rules/{{rule_id}}", edit_rule, methods=["POST"]),
    Route(f"{_BASE}/rules/{{rule_id}}/delete", delete_rule, methods=["POST"]),
    Route(f"{_BASE}/schedule", set_schedule, methods=["POST"]),
]
