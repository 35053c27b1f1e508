"""What the registry holds and how its jobs fare: the numbers behind ``/metrics`` gauges and
the portal's dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import asyncpg

from registry.auth.principal import Principal
from registry.db import inventory as inventory_db
from registry.db import projects as project_db
from registry.db import quotas
from registry.query import ListQuery
from registry.rbac import Action, project_scope
from registry.services.context import Backends


@dataclass(frozen=True, slots=True)
class ProjectUsage:
    name: str
    used: int
    hard: int  # -1: no limit


@dataclass
class Inventory:
    projects: int
    repositories: int
    artifacts: int
    usage: list[ProjectUsage]
    pending_jobs: dict[str, int] = field(default_factory=dict)


async def _usage(b: Backends) -> list[ProjectUsage]:
    found: list[ProjectUsage] = []
    page = 1
    while True:
        rows, total = await quotas.list_quotas(b.db, None, ListQuery(page=page, page_size=100))
        found.extend(
            ProjectUsage(r["project_name"], int(r["used_storage"] or 0), int(r["hard_storage"]))
            for r in rows
        )
        if not rows or len(found) >= total:
            return found
        page += 1


async def snapshot(b: Backends) -> Inventory:
    """Everything, for the metrics scrape (authorized by the face that serves it)."""
    totals = await inventory_db.totals(b.db)
    pending = {r["kind"]: int(r["waiting"]) for r in await inventory_db.pending_jobs(b.db)}
    return Inventory(
        int(totals["projects"]),
        int(totals["repositories"]),
        int(totals["artifacts"]),
        await _usage(b),
        pending,
    )


async def usage_visible_to(b: Backends, actor: Principal) -> list[ProjectUsage]:
    """Storage per project, for the projects the actor can see."""
    if actor.sysadmin:
        return await _usage(b)
    rows, _ = await project_db.list_projects(
        b.db, ListQuery(page_size=100), project_scope(actor, Action.READ_PROJECT)
    )
    found = []
    for row in rows:
        quota_rows, _ = await quotas.list_quotas(b.db, row["id"], ListQuery(page_size=1))
        if quota_rows:
            q = quota_rows[0]
            found.append(
                ProjectUsage(row["name"], int(q["used_storage"] or 0), int(q["hard_storage"]))
            )
    return found


async def daily_operations(b: Backends, actor: Principal, days: int) -> dict[str, dict[date, int]]:
    """Pushes and pulls per day in the projects the actor can see: {"push": {day: n}, …}."""
    project_ids: list[int] | None = None
    if not actor.sysadmin:
        rows, _ = await project_db.list_projects(
            b.db, ListQuery(page_size=100), project_scope(actor, Action.READ_LOGS)
        )
        project_ids = [r["id"] for r in rows]
    await b.audit.flush()
    series: dict[str, dict[date, int]] = {"push": {}, "pull": {}}
    for row in await inventory_db.daily_operations(b.db, project_ids, days):
        series[row["operation"]][row["day"].date()] = int(row["n"])
    return series


async def recent_failures(b: Backends, kinds: list[str], limit: int = 10) -> list[asyncpg.Record]:
    """Jobs that ended in Error, newest first (for system admins: the caller checks)."""
    return await inventory_db.recent_failures(b.db, kinds, limit)
