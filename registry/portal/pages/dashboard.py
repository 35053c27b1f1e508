"""The dashboard: storage per project and pushes/pulls per day (SVG drawn here), the most
pulled repositories, and recent failures with links to where they are explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.portal.endpoint import page
from registry.portal.formatting import human_size
from registry.portal.security import backends, signed_in
from registry.portal.svg import Bar, bar_chart, column_chart
from registry.portal.templating import render
from registry.query import ListQuery, SortKey
from registry.services import audit, gc, inventory, webhook
from registry.services import repository as repository_service
from registry.services.project import find_by_id

DAYS = 14
TOP = 8
# Where a failed job of each kind is explained.
FAILURE_PAGES = {gc.KIND: "/admin/gc", audit.PURGE_KIND: "/admin/purge-audit"}


async def _failure(request: Request, row: Any) -> dict[str, Any]:
    """A failed job as the dashboard lists it. A webhook delivery names its event and links to
    its project's webhooks, never its target (a target's URL may hold its secret)."""
    kind = row["kind"]
    parameters = row["parameters"] or {}
    what, link = kind.replace("_", " ").lower(), "/admin/jobs"
    if kind in FAILURE_PAGES:
        link = f"{FAILURE_PAGES[kind]}/{row['id']}/log"
    elif kind == webhook.KIND:
        what = f"webhook delivery ({parameters.get('event_type', 'event')})"
        project_id = parameters.get("project_id")
        project = (
            await find_by_id(backends(request).db, project_id)
            if isinstance(project_id, int)
            else None
        )
        if project is not None:
            what += f" in {project.name}"
            link = f"/projects/{quote(project.name)}/webhooks"
    return {
        "id": row["id"],
        "what": what,
        "when": row["ended_at"] or row["created_at"],
        "link": link,
    }


@page
async def dashboard(request: Request) -> Response:
    principal = await signed_in(request)
    b = backends(request)
    usage = sorted(
        await inventory.usage_visible_to(b, principal), key=lambda u: u.used, reverse=True
    )
    storage = bar_chart(
        "Storage per project",
        [Bar(u.name, u.used, human_size(u.used)) for u in usage[:TOP]],
    )
    series = await inventory.daily_operations(b, principal, DAYS)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    activity = column_chart(
        f"Pushes and pulls per day, last {DAYS} days",
        [d.isoformat() for d in days],
        [
            ("pushes", [series["push"].get(d, 0) for d in days]),
            ("pulls", [series["pull"].get(d, 0) for d in days]),
        ],
    )
    top_rows, _ = await repository_service.list_repositories(
        b, principal, ListQuery({}, (SortKey("pull_count", True),), 1, TOP)
    )
    failures: list[dict[str, Any]] = []
    if principal.sysadmin:
        rows = await inventory.recent_failures(b, [gc.KIND, audit.PURGE_KIND, webhook.KIND])
        failures = [await _failure(request, r) for r in rows]
    return render(
        request,
        "dashboard.html",
        {
            "storage": storage,
            "activity": activity,
            "top": top_rows,
            "failures": failures,
            "show_failures": principal.sysadmin,
            "pushes": sum(series["push"].values()),
            "pulls": sum(series["pull"].values()),
            "stored": human_size(sum(u.used for u in usage)),
            "project_count": len(usage),
        },
        title="Dashboard",
    )
