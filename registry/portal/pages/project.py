"""A project's page: one tab per aspect (repositories, members, robots, labels, rules,
webhooks, logs, configuration), and the forms of the tabs that change something."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.portal.endpoint import page, see_other
from registry.portal.errors import PageNotFound, status_of
from registry.portal.forms import Form, path_id, signed_form, whole_number
from registry.portal.navigation import PROJECT_TABS
from registry.portal.pages.chart_tab import charts_tab
from registry.portal.pages.retention_tab import retention_tab
from registry.portal.pages.webhook_tab import webhooks_tab
from registry.portal.security import allowed, backends, project_page, viewer
from registry.portal.templating import render
from registry.query import ListQuery, SortKey, parse_filters
from registry.rbac import ROLE_NAMES, Action, ProjectRef, Role
from registry.services import (
    audit_log,
    immutable_rule,
    label,
    member,
    robot,
)
from registry.services import project as project_service
from registry.services import quota as quota_service
from registry.services import repository as repository_service
from registry.services.errors import RegistryError

Loader = Callable[[Request, ProjectRef], Awaitable[dict[str, Any]]]
LIST_SIZE = 100

# Flags of a project's configuration tab (metadata key, label), as Harbor's form has them.
CONFIG_FLAGS = (
    ("public", "Public (anyone may pull, no login needed)"),
    ("enable_content_trust", "Allow only signed images to be pulled"),
    ("prevent_vul", "Prevent vulnerable images from being pulled"),
    ("auto_scan", "Scan images on push"),
)
SEVERITIES = ("none", "low", "medium", "high", "critical")


def _tab_url(project: ProjectRef, tab: str, notice: str = "") -> str:
    url = f"/projects/{quote(project.name)}/{tab}"
    return url + ("?notice=" + quote(notice) if notice else "")


async def _repositories(request: Request, project: ProjectRef) -> dict[str, Any]:
    search = request.query_params.get("q", "").strip()
    filters = parse_filters(f"name=~{search}") if search else {}
    query = ListQuery(filters, (SortKey("update_time", True),), 1, LIST_SIZE)
    rows, total = await repository_service.list_in_project(backends(request), project, query)
    prefix = project.name + "/"
    repositories = [
        {
            "name": r["name"],
            "short": r["name"].removeprefix(prefix),
            "artifact_count": r["artifact_count"],
            "pull_count": r["pull_count"],
            "updated": r["updated_at"],
        }
        for r in rows
    ]
    return {"repositories": repositories, "total": total, "search": search}


async def _members(request: Request, project: ProjectRef) -> dict[str, Any]:
    rows, total = await member.list_members(
        backends(request), project, ListQuery(page_size=LIST_SIZE)
    )
    members = [
        {
            "id": r["id"],
            "name": r["entity_name"],
            "kind": "group" if r["entity_type"] == "g" else "user",
            "role": ROLE_NAMES[Role(r["role"])],
        }
        for r in rows
    ]
    roles = [(int(role), ROLE_NAMES[role]) for role in Role]
    return {"members": members, "total": total, "roles": roles}


async def _robots(request: Request, project: ProjectRef) -> dict[str, Any]:
    query = ListQuery(parse_filters(f"Level=project,ProjectID={project.id}"), (), 1, LIST_SIZE)
    rows, total = await robot.list_robots(backends(request), await viewer(request), query)
    return {"robots": rows, "total": total}


async def _labels(request: Request, project: ProjectRef) -> dict[str, Any]:
    rows, total = await label.list_labels(
        backends(request), "p", project.id, None, ListQuery(page_size=LIST_SIZE)
    )
    return {"labels": rows, "total": total}


def _selectors(raw: Any) -> str:
    if isinstance(raw, dict):
        raw = [s for group in raw.values() for s in (group or [])]
    if not isinstance(raw, list):
        return ""
    return ", ".join(
        f"{s.get('decoration', '')} {s.get('pattern', '')}" for s in raw if isinstance(s, dict)
    )


async def _immutability(request: Request, project: ProjectRef) -> dict[str, Any]:
    rows, total = await immutable_rule.list_rules(
        backends(request), project, ListQuery(page_size=LIST_SIZE)
    )
    rules = [
        {
            "id": r["id"],
            "disabled": r["disabled"],
            "repositories": _selectors(r["scope_selectors"]),
            "tags": _selectors(r["tag_selectors"]),
        }
        for r in rows
    ]
    return {"rules": rules, "total": total}


async def _logs(request: Request, project: ProjectRef) -> dict[str, Any]:
    rows, total = await audit_log.list_project_logs(
        backends(request), project, ListQuery(page_size=50)
    )
    return {"logs": rows, "total": total}


async def _configuration(request: Request, project: ProjectRef) -> dict[str, Any]:
    b = backends(request)
    detail = await project_service.project_detail(b, project)
    metadata = detail["metadata"] or {}
    quotas, _ = await quota_service.list_quotas(b, project.id, ListQuery(page_size=1))
    return {
        "metadata": metadata,
        "flags": CONFIG_FLAGS,
        "severities": SEVERITIES,
        "quota": quotas[0] if quotas else None,
    }


TABS: dict[str, Loader] = {
    "repositories": _repositories,
    "members": _members,
    "robots": _robots,
    "labels": _labels,
    "immutability": _immutability,
    "retention": retention_tab,
    "webhooks": webhooks_tab,
    "logs": _logs,
    "configuration": _configuration,
    "charts": charts_tab,
}
_LABELS = {slug: label for slug, label, _ in PROJECT_TABS}
_NEEDS = {slug: Action(action) for slug, _, action in PROJECT_TABS}


async def tab_page(
    request: Request,
    project: ProjectRef,
    tab: str,
    *,
    error: str | RegistryError | None = None,
    status: int = 200,
    form: Form | None = None,
) -> Response:
    """A tab, with what went wrong on its form (a domain error sets the status) and the
    form as it was posted, to fill in again."""
    if isinstance(error, RegistryError):
        status, error = status_of(error), error.message
    context = await TABS[tab](request, project)
    context.update(
        {
            "project": project,
            "tab": tab,
            "can": await allowed(request, project),
            "error": error,
        }
    )
    context["form"] = form or context.get("form") or Form({})
    return render(
        request,
        f"project/{tab}.html",
        context,
        status=status,
        title=f"{project.name} · {_LABELS[tab]}",
    )


@page
async def project_home(request: Request) -> Response:
    project = await project_page(request)
    return see_other(_tab_url(project, "repositories"))


@page
async def project_tab(request: Request) -> Response:
    tab = str(request.path_params["tab"])
    if tab not in TABS:
        raise PageNotFound(f"There is no {tab} page.")
    project = await project_page(request, _NEEDS[tab])
    return await tab_page(request, project, tab)


@page
async def add_member(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_MEMBERS)
    username = form.get("username")
    role_text = form.get("role_id", str(int(Role.DEVELOPER)))
    try:
        number = whole_number(role_text)
        role = Role(number) if number is not None else None
        if role is None or not username:
            raise ValueError
    except ValueError:
        return await tab_page(
            request, project, "members", error="Give a user name and a role.", status=400
        )
    try:
        await member.add_member(
            backends(request),
            await viewer(request),
            project,
            member.UserMember(username=username),
            role,
        )
    except RegistryError as exc:
        return await tab_page(request, project, "members", error=exc.message, status=status_of(exc))
    return see_other(_tab_url(project, "members", f"{username} added as {ROLE_NAMES[role]}."))


@page
async def remove_member(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.MANAGE_MEMBERS)
    member_id = path_id(request, "member_id")
    await member.remove_member(backends(request), await viewer(request), project, member_id)
    return see_other(_tab_url(project, "members", "Member removed."))


@page
async def update_configuration(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_PROJECT)
    metadata: dict[str, object] = {key: form.flag(key) for key, _ in CONFIG_FLAGS}
    severity = form.get("severity", "low")
    if severity in SEVERITIES:
        metadata["severity"] = severity
    try:
        await project_service.update_project(
            backends(request), await viewer(request), project, metadata
        )
    except RegistryError as exc:
        return await tab_page(
            request, project, "configuration", error=exc.message, status=status_of(exc)
        )
    return see_other(_tab_url(project, "configuration", "Configuration saved."))
