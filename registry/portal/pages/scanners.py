"""Administration of scanning: the registered scanners with their health, choosing the
default one, and "Scan all" with its progress shown as it goes (htmx polls the panel)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.portal.endpoint import page, see_other
from registry.portal.errors import status_of
from registry.portal.forms import signed_form
from registry.portal.security import backends, sysadmin
from registry.portal.templating import render
from registry.query import ListQuery
from registry.services import jobs as job_service
from registry.services import scan, scanner
from registry.services.errors import RegistryError

BASE = "/admin/scanners"
RUNNING = ("Pending", "Running")


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


async def _page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    return render(
        request,
        "admin/scanners.html",
        {
            "scanners": await _scanners(request),
            "progress": await _progress(request),
            "error": error,
        },
        status=status,
        title="Scanners",
    )


@page
async def scanners_page(request: Request) -> Response:
    await sysadmin(request)
    return await _page(request)


@page
async def set_default(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    registration = str(request.path_params["uuid"])
    try:
        row = await scanner.get_registration(backends(request), registration)
        await scanner.set_default(backends(request), principal, registration)
    except RegistryError as exc:
        return await _page(request, error=exc.message, status=status_of(exc))
    return see_other(f"{BASE}?notice=" + quote(f"{row['name']} is now the default scanner."))


@page
async def scan_all(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    try:
        job_id = await scan.scan_all_now(backends(request), principal)
    except RegistryError as exc:
        return await _page(request, error=exc.message, status=status_of(exc))
    return see_other(f"{BASE}?notice=" + quote(f"Scan all #{job_id} started."))


@page
async def progress_panel(request: Request) -> Response:
    """The scan-all panel alone: htmx swaps it in while scans run."""
    await sysadmin(request)
    return render(request, "admin/_scan_all.html", {"progress": await _progress(request)})


routes = [
    Route(BASE, scanners_page, methods=["GET"]),
    Route(f"{BASE}/scan-all", scan_all, methods=["POST"]),
    Route(f"{BASE}/scan-all/progress", progress_panel, methods=["GET"]),
    Route(f"{BASE}/{{uuid}}/default", set_default, methods=["POST"]),
]
