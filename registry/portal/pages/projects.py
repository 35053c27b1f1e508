"""The projects list (search, visibility, repositories, quota) and "New project"."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.portal.endpoint import page, see_other
from registry.portal.errors import status_of
from registry.portal.formatting import parse_size
from registry.portal.forms import signed_form
from registry.portal.security import backends, signed_in
from registry.portal.templating import render
from registry.query import ListQuery
from registry.rbac import ROLE_NAMES, ProjectRef
from registry.services import access
from registry.services import project as project_service
from registry.services import quota as quota_service
from registry.services.errors import NotPermitted, RegistryError

PAGE_SIZE = 25


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) < 10_000 else 1


async def project_rows(request: Request, search: str, page_number: int) -> tuple[list[Any], int]:
    """The visible projects with their quota and the viewer's role, one page of them."""
    b = backends(request)
    principal = await signed_in(request)
    query = ListQuery(page=page_number, page_size=PAGE_SIZE)
    rows, total = await project_service.list_projects(b, principal, query, search or None)
    listed = []
    for row in rows:
        quotas, _ = await quota_service.list_quotas(b, row["id"], ListQuery(page_size=1))
        used = quotas[0]["used_storage"] if quotas else 0
        hard = quotas[0]["hard_storage"] if quotas else -1
        ref = ProjectRef(row["id"], row["name"], row["public"], row["created_at"])
        role = await access.role_in(b.db, principal, ref)
        listed.append(
            {
                "name": row["name"],
                "public": row["public"],
                "repo_count": row["repo_count"],
                "owner": row["owner_name"] or "",
                "created": row["created_at"],
                "used": int(used or 0),
                "hard": int(hard),
                "role": ROLE_NAMES[role]
                if role is not None
                else ("system admin" if principal.sysadmin else ""),
            }
        )
    return listed, total


async def _may_create(request: Request) -> bool:
    try:
        await project_service.check_may_create(backends(request), await signed_in(request))
    except NotPermitted:
        return False
    return True


async def _list_page(
    request: Request, *, error: str | None = None, status: int = 200, form: dict[str, Any]
) -> Response:
    search = request.query_params.get("q", "").strip()
    page_number = _page_number(request)
    rows, total = await project_rows(request, search, page_number)
    return render(
        request,
        "projects.html",
        {
            "projects": rows,
            "total": total,
            "search": search,
            "page_number": page_number,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "may_create": await _may_create(request),
            "form": form,
            "error": error,
        },
        status=status,
        title="Projects",
    )


_EMPTY_FORM = {"project_name": "", "public": False, "storage_limit": "", "open": False}


@page
async def list_projects(request: Request) -> Response:
    await signed_in(request)
    return await _list_page(request, form=_EMPTY_FORM)


@page
async def create_project(request: Request) -> Response:
    form = await signed_form(request)
    principal = await signed_in(request)
    name, public, limit_text = (
        form.get("project_name"),
        form.flag("public"),
        form.get("storage_limit"),
    )
    values = {"project_name": name, "public": public, "storage_limit": limit_text, "open": True}
    try:
        limit = parse_size(limit_text)
    except ValueError as exc:
        return await _list_page(request, error=f"Storage limit: {exc}.", status=400, form=values)
    try:
        await project_service.create_project(
            backends(request),
            principal,
            name,
            {"public": "true" if public else "false"},
            limit,
        )
    except RegistryError as exc:
        return await _list_page(request, error=exc.message, status=status_of(exc), form=values)
    return see_other(
        f"/projects/{quote(name)}/repositories?notice=" + quote(f"Project {name} created.")
    )
