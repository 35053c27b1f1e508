"""Administration of scanning: the registered scanners with their health, registering a new
one (after "Test connection" asked its metadata), choosing the default one, "Scan all" with
its progress shown as it goes (htmx polls the panel), and the scan-all schedule."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.auth.principal import Principal
from registry.portal.admin_form import admin_form, with_notice
from registry.portal.endpoint import page
from registry.portal.forms import Form
from registry.portal.pages.system_jobs import SCHEDULE_TYPES, save_schedule
from registry.portal.security import backends, sysadmin
from registry.portal.templating import render
from registry.query import ListQuery
from registry.services import jobs as job_service
from registry.services import scan, scanner, system_job

BASE = "/admin/scanners"
RUNNING = ("Pending", "Running")
# The authentication a scanner adapter may ask for, with the labels the form shows.
AUTH_CHOICES = tuple((a, a or "None") for a in scanner.AUTH_TYPES)


async def _progress(request: Request) -> dict[str, Any]:
    """The latest scan-all run and the scans it started, by status."""
    b = backends(request)
    rows, _ = await job_service.list_jobs(b, [scan.ALL_KIND], ListQuery(page_size=1))
    latest = rows[0] if rows else None
    metrics = await scan.scan_all_metrics(b, False)
    return {
        "job": latest,
        "metrics": metrics,
        "running": bool(metrics["ongoing"] or (latest is not None and latest["status"] in RUNNING)),
    }


async def _scanners(request: Request) -> list[dict[str, Any]]:
    b = backends(request)
    rows = await scanner.list_registrations(b)
    healths = await asyncio.gather(*(scanner.health(b, row) for row in rows))
    found = []
    for row, (health, metadata) in zip(rows, healths, strict=True):
        info = (metadata or {}).get("scanner") or {}
        found.append(
            {
                "uuid": row["uuid"],
                "name": row["name"],
                "url": row["url"],
                "description": row["description"] or "",
                "default": row["is_default"],
                "disabled": row["disabled"],
                "health": health,
                "adapter": f"{info.get('name', '')} {info.get('version', '')}".strip(),
            }
        )
    return found


async def _page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    b = backends(request)
    return render(
        request,
        "admin/scanners.html",
        {
            "scanners": await _scanners(request),
            "progress": await _progress(request),
            "schedule": await job_service.get_schedule(b, scan.ALL_KIND, system_job.OWNER),
            "schedule_types": SCHEDULE_TYPES,
            "schedule_action": f"{BASE}/scan-all/schedule",
            "auth_choices": AUTH_CHOICES,
            "form": form or Form({}),
            "error": error,
        },
        status=status,
        title="Scanners",
    )


async def _on_list(request: Request, error: str, status: int, form: Form) -> Response:
    """A button of the list failed: the page again with the message, the new-scanner form
    left empty."""
    return await _page(request, error, status)


@page
async def scanners_page(request: Request) -> Response:
    await sysadmin(request)
    return await _page(request)


def registration_body(form: Form) -> dict[str, Any]:
    """The REST API's body for the scanner the form describes."""
    return {
        "name": form.get("name"),
        "description": form.get("description"),
        "url": form.get("url"),
        "auth": form.get("auth"),
        "access_credential": form.get("access_credential"),
        "skip_certVerify": form.flag("skip_cert_verify"),
    }


@admin_form(_page)
async def register(request: Request, principal: Principal, form: Form) -> str | Response:
    body = registration_body(form)
    if form.get("action") == "test":
        found = await scanner.ping(body)
        info = found.get("scanner") or {}
        adapter = f"{info.get('name', 'a scanner')} {info.get('version', '')}".strip()
        request.state.portal_notice = f"Connection to {body['url']} succeeded: {adapter}."
        return await _page(request, form=form)
    await scanner.create_registration(backends(request), principal, body)
    return with_notice(BASE, f"Scanner {body['name']} registered.")


@admin_form(_on_list)
async def set_default(request: Request, principal: Principal, form: Form) -> str | Response:
    registration = str(request.path_params["uuid"])
    row = await scanner.get_registration(backends(request), registration)
    await scanner.set_default(backends(request), principal, registration)
    return with_notice(BASE, f"{row['name']} is now the default scanner.")


@admin_form(_on_list)
async def scan_all(request: Request, principal: Principal, form: Form) -> str | Response:
    job_id = await scan.scan_all_now(backends(request), principal)
    return with_notice(BASE, f"Scan all #{job_id} started.")


@admin_form(_on_list)
async def schedule(request: Request, principal: Principal, form: Form) -> str | Response:
    await save_schedule(request, principal, scan.ALL_KIND, form, {})
    return with_notice(BASE, "Scan-all schedule saved.")


@page
async def progress_panel(request: Request) -> Response:
    """The scan-all panel alone: htmx swaps it in while scans run."""
    await sysadmin(request)
    return render(request, "admin/_scan_all.html", {"progress": await _progress(request)})


routes = [
    Route(BASE, scanners_page, methods=["GET"]),
    Route(BASE, register, methods=["POST"]),
    Route(f"{BASE}/scan-all", scan_all, methods=["POST"]),
    Route(f"{BASE}/scan-all/schedule", schedule, methods=["POST"]),
    Route(f"{BASE}/scan-all/progress", progress_panel, methods=["GET"]),
    Route(f"{BASE}/{{uuid}}/default", set_default, methods=["POST"]),
]
