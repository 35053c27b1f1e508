"""A project's Tag retention tab: its rules in words, the form that adds a rule or edits one
(``?edit=<rule>`` fills it with the stored rule), the schedule, and the recent runs."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from registry.portal.forms import Form, whole_number
from registry.portal.pages.system_jobs import SCHEDULE_TYPES
from registry.portal.security import backends
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services import cron, retention
from registry.services import project as project_service

# The templates Harbor's form offers (the two older ones are still run, not offered).
OFFERED = ("latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull", "always")
TEMPLATES = tuple((name, retention.TEMPLATES[name]) for name in OFFERED)
REPOSITORY_DECORATIONS = (("repoMatches", "matching"), ("repoExcludes", "excluding"))
TAG_DECORATIONS = (("matches", "matching"), ("excludes", "excluding"))


async def retention_policy(request: Request, project: ProjectRef) -> retention.Policy | None:
    """The project's retention policy (its id is kept in the project's metadata), if any."""
    detail = await project_service.project_detail(backends(request), project)
    policy_id = (detail["metadata"] or {}).get("retention_id", "")
    number = whole_number(policy_id) if isinstance(policy_id, str) else None
    if number is None:
        return None
    return await retention.load_policy(backends(request), number)


def execution_row(row: Any) -> dict[str, Any]:
    parameters = row["parameters"] or {}
    return {
        "id": row["id"],
        "status": row["status"],
        "dry_run": bool(parameters.get("dry_run")),
        "trigger": row["trigger"],
        "started": row["started_at"] or row["created_at"],
        "ended": row["ended_at"],
        "running": row["status"] in ("Pending", "Running"),
    }


def _untagged(rule: retention.Rule) -> bool:
    return any(s.untagged for s in rule.tag_selectors)


def rule_text(rule: retention.Rule) -> dict[str, Any]:
    """A rule as the tab lists it: what it retains, in which repositories, by which tags."""

    def selectors(found: tuple[retention.Selector, ...], names: dict[str, str]) -> str:
        return ", ".join(f"{names.get(s.decoration, s.decoration)} {s.pattern}" for s in found)

    retains = retention.TEMPLATES[rule.template].display_text.replace("#", str(rule.value))
    return {
        "id": rule.id,
        "retains": f"Retain {retains}",
        "repositories": selectors(rule.repository_selectors, dict(REPOSITORY_DECORATIONS)),
        "tags": selectors(rule.tag_selectors, dict(TAG_DECORATIONS)),
        "untagged": _untagged(rule),
        "disabled": rule.disabled,
    }


def rule_form(rule: retention.Rule) -> Form:
    """The rule form filled with a stored rule."""
    repository = rule.repository_selectors[0] if rule.repository_selectors else None
    tag = rule.tag_selectors[0] if rule.tag_selectors else None
    fields = {
        "template": rule.template,
        "value": str(rule.value) if retention.TEMPLATES[rule.template].unit else "",
        "repository_decoration": repository.decoration if repository else "repoMatches",
        "repositories": repository.pattern if repository else "**",
        "tag_decoration": tag.decoration if tag else "matches",
        "tags": tag.pattern if tag else "**",
    }
    found = {key: [value] for key, value in fields.items()}
    if _untagged(rule):
        found["untagged"] = ["on"]
    return Form(found)


def rule_json(form: Form, value: int) -> dict[str, Any]:
    """The Harbor rule the form describes, ``value`` its count or number of days (the service
    validates it)."""
    template = form.get("template")
    known = retention.TEMPLATES.get(template)
    return {
        "action": retention.ACTION,
        "template": template,
        "params": {template: value} if known is not None and known.unit else {},
        "tag_selectors": [
            {
                "kind": retention.SELECTOR_KIND,
                "decoration": form.get("tag_decoration", "matches"),
                "pattern": form.get("tags") or "**",
                "extras": json.dumps({"untagged": form.flag("untagged")}),
            }
        ],
        "scope_selectors": {
            "repository": [
                {
                    "kind": retention.SELECTOR_KIND,
                    "decoration": form.get("repository_decoration", "repoMatches"),
                    "pattern": form.get("repositories") or "**",
                }
            ]
        },
    }


def schedule_of(policy: retention.Policy | None) -> dict[str, Any]:
    """The policy's cron as the schedule form shows it (a preset's name when it is one)."""
    text = policy.cron if policy is not None else ""
    kind = next((name for name, value in cron.PRESETS.items() if value == text), "Custom")
    return {"schedule_type": kind if text else "None", "cron": text, "next_run_at": None}


# A new rule starts as Harbor's form does: every repository, every tag, untagged included.
NEW_RULE = Form(
    {
        "template": ["latestPushedK"],
        "value": ["10"],
        "repositories": ["**"],
        "tags": ["**"],
        "untagged": ["on"],
    }
)


async def retention_tab(request: Request, project: ProjectRef) -> dict[str, Any]:
    policy = await retention_policy(request, project)
    executions: list[Any] = []
    rules = policy.rules if policy is not None else ()
    if policy is not None:
        rows, _ = await retention.list_executions(
            backends(request), policy, ListQuery(page_size=10)
        )
        executions = [execution_row(r) for r in rows]
    editing = whole_number(request.query_params.get("edit", ""))
    edited = next((r for r in rules if r.id == editing), None)
    return {
        "policy": policy,
        "rules": [rule_text(r) for r in rules],
        "executions": executions,
        "templates": TEMPLATES,
        "repository_decorations": REPOSITORY_DECORATIONS,
        "tag_decorations": TAG_DECORATIONS,
        "editing": edited.id if edited is not None else None,
        "form": rule_form(edited) if edited is not None else NEW_RULE,
        "schedule": schedule_of(policy),
        "schedule_types": SCHEDULE_TYPES,
        "schedule_action": f"/projects/{project.name}/retention/schedule",
    }
