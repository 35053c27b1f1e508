"""The forms of a project's Labels, Tag immutability, Tag retention and Robot accounts tabs."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.portal.endpoint import page, see_other
from registry.portal.errors import PageNotFound
from registry.portal.forms import Form, path_id, signed_form, whole_number
from registry.portal.pages.project import tab_page
from registry.portal.pages.retention_tab import execution_row, retention_policy
from registry.portal.security import backends, project_page, viewer
from registry.portal.templating import render
from registry.rbac import Action, ProjectRef
from registry.services import immutable_rule, label, retention, robot
from registry.services.errors import RegistryError

# What a project robot may be given from the portal: Harbor's repository items.
ROBOT_ACCESS = {"pull": ("pull",), "push": ("pull", "push")}


def _url(project: ProjectRef, tab: str, notice: str) -> str:
    return f"/projects/{quote(project.name)}/{tab}?notice={quote(notice)}"


@page
async def add_label(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_LABELS)
    try:
        await label.create_label(
            backends(request),
            await viewer(request),
            name=form.get("name"),
            description=form.get("description"),
            color=form.get("color", "#0b5cad"),
            scope="p",
            project_id=project.id,
        )
    except RegistryError as exc:
        return await tab_page(request, project, "labels", error=exc)
    return see_other(_url(project, "labels", f"Label {form.get('name')} added."))


@page
async def delete_label(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.MANAGE_LABELS)
    found = await label.get_label(backends(request), path_id(request, "label_id"))
    if found["project_id"] != project.id:
        raise PageNotFound("No such label in this project.")
    await label.delete_label(backends(request), await viewer(request), found)
    return see_other(_url(project, "labels", f"Label {found['name']} deleted."))


def _rule_body(form: Form) -> dict[str, object]:
    def selector(decoration: str, pattern: str) -> dict[str, str]:
        return {"kind": "doublestar", "decoration": decoration, "pattern": pattern or "**"}

    return {
        "tag_selectors": [selector("matches", form.get("tags"))],
        "scope_selectors": {"repository": [selector("repoMatches", form.get("repositories"))]},
    }


@page
async def add_rule(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_IMMUTABLE_RULES)
    try:
        await immutable_rule.create_rule(
            backends(request), await viewer(request), project, _rule_body(form)
        )
    except RegistryError as exc:
        return await tab_page(request, project, "immutability", error=exc)
    return see_other(_url(project, "immutability", "Rule added."))


@page
async def delete_rule(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.MANAGE_IMMUTABLE_RULES)
    await immutable_rule.delete_rule(
        backends(request), await viewer(request), project, path_id(request, "rule_id")
    )
    return see_other(_url(project, "immutability", "Rule deleted."))


@page
async def add_robot(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_ROBOTS)
    actions = ROBOT_ACCESS.get(form.get("access"), ("pull",))
    days = form.get("duration", "30")
    spec = robot.RobotSpec(
        name=form.get("name"),
        description=form.get("description"),
        level="project",
        duration=-1 if days.strip() == "-1" else (whole_number(days) or 30),
        permissions=[
            {
                "kind": "project",
                "namespace": project.name,
                "access": [{"resource": "repository", "action": a} for a in actions],
            }
        ],
    )
    try:
        created = await robot.create_robot(
            backends(request), await viewer(request), spec, by_name=True
        )
    except RegistryError as exc:
        return await tab_page(request, project, "robots", error=exc)
    # The secret is shown this once, on this page; it is never stored in clear.
    return render(
        request,
        "project/robot_created.html",
        {"project": project, "robot_name": created.full_name, "secret": created.secret},
        title=f"{project.name} · robot account created",
    )


@page
async def delete_robot(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.MANAGE_ROBOTS)
    robot_id = path_id(request, "robot_id")
    found = await robot.robot_for(backends(request), await viewer(request), robot_id, manage=True)
    if found["project_id"] != project.id:
        raise PageNotFound("No such robot account in this project.")
    await robot.delete_robot(backends(request), await viewer(request), robot_id)
    return see_other(_url(project, "robots", "Robot account deleted."))


@page
async def run_retention(request: Request) -> Response:
    """Run the project's retention policy now (or as a dry run); its row then shows progress."""
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_PROJECT)
    policy = await retention_policy(request, project)
    if policy is None:
        raise PageNotFound("This project has no retention policy.")
    dry_run = form.flag("dry_run")
    execution_id = await retention.start_execution(backends(request), policy, dry_run=dry_run)
    kind = "Dry run" if dry_run else "Run"
    return see_other(_url(project, "retention", f"{kind} #{execution_id} started."))


@page
async def retention_row(request: Request) -> Response:
    """One execution's row: htmx swaps it in while the execution goes on."""
    project = await project_page(request, Action.READ_PROJECT)
    policy = await retention_policy(request, project)
    if policy is None:
        raise PageNotFound("This project has no retention policy.")
    row = await retention.get_execution(backends(request), policy, path_id(request, "execution_id"))
    return render(
        request, "project/_retention_row.html", {"project": project, "run": execution_row(row)}
    )
