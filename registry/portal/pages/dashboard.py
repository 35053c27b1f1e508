"""The dashboard: storage per project and pushes/pulls per day (SVG drawn here), the most
pulled repositories, and recent failures with links to where they are explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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

DAYS = 14
TOP = 8
# Where a failed job of each kind is explained.
FAILURE_PAGES = {gc.KIND: "/admin/gc", audit.PURGE_KIND: "/admin/purge-audit"}


def _failure(row: Any) -> dict[str, Any]:
    kind = row["kind"]
    link = FAILURE_PAGES.get(kind, "/admin/jobs")
    parameters = row["parameters"] or {}
    what = kind.replace("_", " ").lower()
    if kind == webhook.KIND:
        target = parameters.get("address") or parameters.get("target", {})
        what = f"webhook delivery {target if isinstance(target, str) else ''}".strip()
    if kind in FAILURE_PAGES:
        link = f"{link}/{row['id']}/log"
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
        failures = [_failure(r) for r in rows]
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
