"""Garbage collection and the audit-log purge: run now (or as a dry run), schedule, history,
each run's log, and live progress of the runs still going (htmx polls their rows)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.auth.principal import Principal
from registry.portal.admin_form import admin_form, with_notice
from registry.portal.endpoint import page
from registry.portal.formatting import human_size
from registry.portal.forms import Form, path_id, whole_number
from registry.portal.security import backends, sysadmin
from registry.portal.templating import PAGE_HEADERS, render
from registry.query import ListQuery
from registry.services import audit, gc, system_job
from registry.services import jobs as job_service

SCHEDULE_TYPES = ("None", "Hourly", "Daily", "Weekly", "Custom")
RUNNING = ("Pending", "Running")


@dataclass(frozen=True, slots=True)
class SystemJob:
    kind: str
    slug: str
    title: str
    parameters: Callable[[Form], dict[str, Any]]
    summary: Callable[[dict[str, Any] | None, dict[str, Any]], str]


def _gc_parameters(form: Form) -> dict[str, Any]:
    return system_job.gc_parameters(
        {"dry_run": form.flag("dry_run"), "delete_untagged": form.flag("delete_untagged")}
    )


def _gc_summary(result: dict[str, Any] | None, parameters: dict[str, Any]) -> str:
    if not result:
        return ""
    verb = "would free" if parameters.get("dry_run") else "freed"
    freed = int(result.get("bytes_freed", 0))
    return f"{result.get('blobs_deleted', 0)} blobs, {verb} {human_size(freed)} ({freed} bytes)"


def _purge_parameters(form: Form) -> dict[str, Any]:
    hours = form.get("audit_retention_hour", "720")
    return system_job.purge_parameters(
        {
            "dry_run": form.flag("dry_run"),
            "audit_retention_hour": whole_number(hours) or -1,
            "include_operations": ",".join(form.all("operation")) or "create,delete,pull",
        }
    )


def _purge_summary(result: dict[str, Any] | None, parameters: dict[str, Any]) -> str:
    if not result:
        return ""
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items() if k != "dry_run")


JOBS = {
    "gc": SystemJob(gc.KIND, "gc", "Garbage collection", _gc_parameters, _gc_summary),
    "purge-audit": SystemJob(
        audit.PURGE_KIND, "purge-audit", "Audit-log purge", _purge_parameters, _purge_summary
    ),
}


def _row(job: SystemJob, row: Any) -> dict[str, Any]:
    parameters = dict(row["parameters"] or {})
    result = row["result"] if isinstance(row["result"], dict) else None
    return {
        "id": row["id"],
        "status": row["status"],
        "trigger": row["trigger"],
        "dry_run": bool(parameters.get("dry_run")),
        "created": row["created_at"],
        "ended": row["ended_at"],
        "summary": job.summary(result, parameters),
        "freed": int(result.get("bytes_freed", 0)) if result else None,
        "running": row["status"] in RUNNING,
    }


async def _page(
    request: Request, job: SystemJob, *, error: str | None = None, status: int = 200
) -> Response:
    b = backends(request)
    rows, _ = await job_service.list_jobs(b, [job.kind], ListQuery(page_size=20))
    schedule = await job_service.get_schedule(b, job.kind, system_job.OWNER)
    return render(
        request,
        f"admin/{job.slug}.html",
        {
            "job": job,
            "history": [_row(job, r) for r in rows],
            "schedule": schedule,
            "schedule_types": SCHEDULE_TYPES,
            "schedule_action": f"/admin/{job.slug}/schedule",
            "error": error,
        },
        status=status,
        title=job.title,
    )


async def save_schedule(
    request: Request, principal: Principal, kind: str, form: Form, parameters: dict[str, Any]
) -> None:
    """Set the schedule of a system job kind from the schedule form (``_schedule.html``)."""
    await system_job.set_schedule(
        backends(request),
        principal,
        kind,
        form.get("schedule_type", "None"),
        form.get("cron") or None,
        parameters,
    )


def _routes(job: SystemJob) -> list[Route]:
    base = f"/admin/{job.slug}"

    @page
    async def show(request: Request) -> Response:
        await sysadmin(request)
        return await _page(request, job)

    async def again(request: Request, error: str, status: int, form: Form) -> Response:
        return await _page(request, job, error=error, status=status)

    @admin_form(again)
    async def run(request: Request, principal: Principal, form: Form) -> str | Response:
        parameters = job.parameters(form)
        job_id = await system_job.run_now(backends(request), principal, job.kind, parameters)
        kind = "Dry run" if parameters.get("dry_run") else "Run"
        return with_notice(base, f"{kind} #{job_id} started.")

    @admin_form(again)
    async def schedule(request: Request, principal: Principal, form: Form) -> str | Response:
        await save_schedule(request, principal, job.kind, form, job.parameters(form))
        return with_notice(base, "Schedule saved.")

    async def _job(request: Request) -> Any:
        await sysadmin(request)
        return await job_service.get_job(backends(request), path_id(request, "job_id"), job.kind)

    @page
    async def row(request: Request) -> Response:
        """One history row: htmx swaps it in while the run goes on."""
        found = await _job(request)
        return render(request, "admin/_job_row.html", {"job": job, "run": _row(job, found)})

    @page
    async def log(request: Request) -> Response:
        found = await _job(request)
        text = await job_service.job_log(backends(request), found["id"])
        return PlainTextResponse(text, headers=PAGE_HEADERS)

    return [
        Route(base, show, methods=["GET"]),
        Route(f"{base}/run", run, methods=["POST"]),
        Route(f"{base}/schedule", schedule, methods=["POST"]),
        Route(f"{base}/{{job_id}}/row", row, methods=["GET"]),
        Route(f"{base}/{{job_id}}/log", log, methods=["GET"]),
    ]


routes = [route for job in JOBS.values() for route in _routes(job)]
