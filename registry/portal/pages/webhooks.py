"""The forms of a project's Webhooks tab: a new policy (name, endpoint URL, the events it
fires on, the Authorization header to send, whether to skip certificate verification),
enabling or disabling one, and deleting one, through the same service as the REST API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.portal.endpoint import page, see_other
from registry.portal.forms import Form, path_id, signed_form
from registry.portal.pages.project import tab_page
from registry.portal.security import backends, project_page, viewer
from registry.rbac import Action, ProjectRef
from registry.services import webhook_policy
from registry.services.errors import RegistryError
from registry.services.webhook import public_target


def _url(project: ProjectRef, notice: str) -> str:
    return f"/projects/{quote(project.name)}/webhooks?notice={quote(notice)}"


def policy_body(form: Form) -> dict[str, Any]:
    """The REST API's body for the policy the form describes."""
    return {
        "name": form.get("name"),
        "description": form.get("description"),
        "enabled": True,
        "event_types": form.all("event_type"),
        "targets": [
            {
                "type": "http",
                "address": form.get("address"),
                "auth_header": form.get("auth_header"),
                "skip_cert_verify": form.flag("skip_cert_verify"),
            }
        ],
    }


@page
async def create_policy(request: Request) -> Response:
    form = await signed_form(request)
    project = await project_page(request, Action.MANAGE_WEBHOOKS)
    body = policy_body(form)
    try:
        await webhook_policy.create_policy(backends(request), await viewer(request), project, body)
    except RegistryError as exc:
        return await tab_page(request, project, "webhooks", error=exc, form=form)
    return see_other(_url(project, f"Webhook {body['name']} added."))


async def _policy(request: Request) -> tuple[ProjectRef, Any]:
    project = await project_page(request, Action.MANAGE_WEBHOOKS)
    row = await webhook_policy.get_policy(backends(request), project, path_id(request, "policy_id"))
    return project, row


@page
async def set_enabled(request: Request) -> Response:
    form = await signed_form(request)
    project, row = await _policy(request)
    enabled = form.flag("enabled")
    # Targets go back without their auth header, which keeps the stored one.
    body = {"enabled": enabled, "targets": [public_target(t) for t in row["targets"] or []]}
    await webhook_policy.update_policy(backends(request), await viewer(request), project, row, body)
    state = "enabled" if enabled else "disabled"
    return see_other(_url(project, f"Webhook {row['name']} {state}."))


@page
async def delete_policy(request: Request) -> Response:
    await signed_form(request)
    project, row = await _policy(request)
    await webhook_policy.delete_policy(backends(request), await viewer(request), project, row)
    return see_other(_url(project, f"Webhook {row['name']} deleted."))


_BASE = "/projects/{project}/webhooks"

routes = [
    Route(_BASE, create_policy, methods=["POST"]),
    Route(f"{_BASE}/{{policy_id}}/enabled", set_enabled, methods=["POST"]),
    Route(f"{_BASE}/{{policy_id}}/delete", delete_policy, methods=["POST"]),
]
