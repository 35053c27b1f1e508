"""Administration → Registries: the remote registries replication talks to. Create one with
its credentials, test the connection before saving, edit it (its form filled with what is
stored; the secret is never shown, and left empty it is kept), test, delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.auth.principal import Principal
from registry.portal.admin_form import admin_form, with_notice
from registry.portal.endpoint import page
from registry.portal.forms import Form, path_id
from registry.portal.security import backends, sysadmin
from registry.portal.templating import render
from registry.query import ListQuery
from registry.services import replication_registry

BASE = "/admin/registries"
LIST_SIZE = 100


def registry_body(form: Form, *, editing: bool = False) -> dict[str, Any]:
    """The REST API's body for the registry the form describes. On an edit an empty secret
    field keeps the stored secret."""
    body: dict[str, Any] = {
        "name": form.get("name"),
        "description": form.get("description"),
        "type": form.get("type"),
        "url": form.get("url"),
        "insecure": form.flag("insecure"),
        "credential_type": form.get("credential_type", "basic") or "basic",
        "access_key": form.get("access_key"),
    }
    if form.get("access_secret") or not editing:
        body["access_secret"] = form.get("access_secret")
    return body


def _form_of(row: Any) -> Form:
    """The edit form filled with the stored registry (its secret left out)."""
    fields = {
        key: [str(row[key] or "")]
        for key in ("name", "description", "type", "url", "credential_type", "access_key")
    }
    if row["insecure"]:
        fields["insecure"] = ["on"]
    return Form(fields)


def _context(form: Form, error: str | None, editing: Any = None) -> dict[str, Any]:
    return {
        "types": replication_registry.adapter_types(),
        "credential_types": replication_registry.CREDENTIAL_TYPES,
        "error": error,
        "form": form,
        "editing": editing,
    }


async def _list_page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    rows, total = await replication_registry.list_registries(
        backends(request), ListQuery(page_size=LIST_SIZE)
    )
    values = {"registries": rows, "total": total, **_context(form or Form({}), error)}
    return render(request, "admin/registries.html", values, status=status, title="Registries")


async def _edit_page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    row = await replication_registry.get_registry(
        backends(request), path_id(request, "registry_id")
    )
    return render(
        request,
        "admin/registry_edit.html",
        _context(form or _form_of(row), error, row),
        status=status,
        title=f"Edit registry {row['name']}",
    )


@page
async def registries(request: Request) -> Response:
    await sysadmin(request)
    return await _list_page(request)


@page
async def edit_form(request: Request) -> Response:
    await sysadmin(request)
    return await _edit_page(request)


@admin_form(_list_page)
async def create_registry(request: Request, principal: Principal, form: Form) -> str | Response:
    body = registry_body(form)
    if form.get("action") == "test":
        await replication_registry.ping(backends(request), body)
        request.state.portal_notice = f"Connection to {body['url']} succeeded."
        return await _list_page(request, form=form)
    await replication_registry.create_registry(backends(request), principal, body)
    return with_notice(BASE, f"Registry {body['name']} created.")


@admin_form(_edit_page)
async def update_registry(request: Request, principal: Principal, form: Form) -> str | Response:
    registry_id = path_id(request, "registry_id")
    body = registry_body(form, editing=True)
    if form.get("action") == "test":
        await replication_registry.ping(backends(request), {**body, "id": registry_id})
        request.state.portal_notice = f"Connection to {body['url']} succeeded."
        return await _edit_page(request, form=form)
    await replication_registry.update_registry(backends(request), principal, registry_id, body)
    return with_notice(BASE, f"Registry {body['name']} saved.")


@admin_form(_list_page)
async def ping_registry(request: Request, principal: Principal, form: Form) -> str | Response:
    registry_id = path_id(request, "registry_id")
    row = await replication_registry.get_registry(backends(request), registry_id)
    await replication_registry.ping(backends(request), {"id": registry_id})
    return with_notice(BASE, f"Connection to {row['name']} succeeded.")


@admin_form(_list_page)
async def delete_registry(request: Request, principal: Principal, form: Form) -> str | Response:
    registry_id = path_id(request, "registry_id")
    row = await replication_registry.get_registry(backends(request), registry_id)
    await replication_registry.delete_registry(backends(request), principal, registry_id)
    return with_notice(BASE, f"Registry {row['name']} deleted.")


_ONE = f"{BASE}/{{registry_id}}"

routes = [
    Route(BASE, registries, methods=["GET"]),
    Route(BASE, create_registry, methods=["POST"]),
    Route(f"{_ONE}/edit", edit_form, methods=["GET"]),
    Route(_ONE, update_registry, methods=["POST"]),
    Route(f"{_ONE}/ping", ping_registry, methods=["POST"]),
    Route(f"{_ONE}/delete", delete_registry, methods=["POST"]),
]
