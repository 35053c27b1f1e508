"""Administration of replication: the remote registries (create with credentials, test the
connection, delete), the policies (create, run, delete), and their executions with live
progress (htmx polls the rows still running), each task's log and "Retry failed"."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.portal.endpoint import page, see_other
from registry.portal.errors import status_of
from registry.portal.forms import Form, path_id, signed_form
from registry.portal.security import backends, sysadmin
from registry.portal.templating import PAGE_HEADERS, render
from registry.query import ListQuery, SortKey
from registry.services import replication, replication_policy, replication_registry
from registry.services import replication_trigger as trigger_service
from registry.services.errors import RegistryError

REGISTRIES = "/admin/registries"
REPLICATIONS = "/admin/replications"
LIST_SIZE = 100
CREDENTIAL_TYPES = replication_registry.CREDENTIAL_TYPES
# A task's job status as Harbor names a replication task's.
TASK_STATUS = {"Running": "InProgress", "Success": "Succeed", "Error": "Failed"}


def _notice(url: str, text: str) -> str:
    return f"{url}?notice={quote(text)}"


# ---------------------------------------------------------------------------- registries


def _registry_body(form: Form) -> dict[str, Any]:
    return {
        "name": form.get("name"),
        "description": form.get("description"),
        "type": form.get("type"),
        "url": form.get("url"),
        "insecure": form.flag("insecure"),
        "credential": {
            "type": form.get("credential_type", "basic") or "basic",
            "access_key": form.get("access_key"),
            "access_secret": form.get("access_secret"),
        },
    }


async def _registries_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    form: Form | None = None,
    notice: str = "",
) -> Response:
    rows, total = await replication_registry.list_registries(
        backends(request), ListQuery(page_size=LIST_SIZE)
    )
    values = {
        "registries": rows,
        "total": total,
        "types": replication_registry.adapter_types(),
        "credential_types": CREDENTIAL_TYPES,
        "error": error,
        "form": form or Form({}),
    }
    if notice:
        values["notice"] = notice
    return render(request, "admin/registries.html", values, status=status, title="Registries")


@page
async def registries(request: Request) -> Response:
    await sysadmin(request)
    return await _registries_page(request)


@page
async def create_registry(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    body = _registry_body(form)
    try:
        if form.get("action") == "test":
            await replication_registry.ping(backends(request), body)
            return await _registries_page(
                request, form=form, notice=f"Connection to {body['url']} succeeded."
            )
        await replication_registry.create_registry(backends(request), principal, body)
    except RegistryError as exc:
        return await _registries_page(request, error=exc.message, status=status_of(exc), form=form)
    return see_other(_notice(REGISTRIES, f"Registry {body['name']} created."))


@page
async def ping_registry(request: Request) -> Response:
    await signed_form(request)
    await sysadmin(request)
    registry_id = path_id(request, "registry_id")
    row = await replication_registry.get_registry(backends(request), registry_id)
    try:
        await replication_registry.ping(backends(request), {"id": registry_id})
    except RegistryError as exc:
        return await _registries_page(request, error=exc.message, status=status_of(exc))
    return see_other(_notice(REGISTRIES, f"Connection to {row['name']} succeeded."))


@page
async def delete_registry(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    registry_id = path_id(request, "registry_id")
    row = await replication_registry.get_registry(backends(request), registry_id)
    try:
        await replication_registry.delete_registry(backends(request), principal, registry_id)
    except RegistryError as exc:
        return await _registries_page(request, error=exc.message, status=status_of(exc))
    return see_other(_notice(REGISTRIES, f"Registry {row['name']} deleted."))


# ---------------------------------------------------------------------------- policies


def _policy_body(form: Form) -> dict[str, Any]:
    registry = {"id": int(form.get("registry") or 0)} if form.get("registry").isdigit() else None
    pull = form.get("direction") == "pull"
    filters: list[dict[str, Any]] = []
    if form.get("name_filter"):
        filters.append({"type": "name", "value": form.get("name_filter")})
    if form.get("tag_filter"):
        filters.append({"type": "tag", "value": form.get("tag_filter"), "decoration": "matches"})
    body: dict[str, Any] = {
        "name": form.get("name"),
        "description": form.get("description"),
        "src_registry": registry if pull else None,
        "dest_registry": None if pull else registry,
        "dest_namespace": form.get("dest_namespace"),
        "filters": filters,
        "trigger": {"type": form.get("trigger", "manual") or "manual"},
        "override": form.flag("override"),
        "replicate_deletion": form.flag("replicate_deletion"),
        "enabled": True,
    }
    if body["trigger"]["type"] == "scheduled":
        body["trigger"]["trigger_settings"] = {"cron": form.get("cron")}
    return body


def execution_row(row: Any, policy_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "policy": policy_names.get(row["policy_id"], f"#{row['policy_id']}"),
        "status": row["status"],
        "status_text": row["status_text"] or "",
        "trigger": row["trigger"],
        "start": row["start_time"],
        "end": row["end_time"],
        "total": row["total"],
        "succeed": row["succeed"],
        "failed": row["failed"],
        "in_progress": row["in_progress"],
        "stopped": row["stopped"],
        "running": row["status"] == "InProgress",
    }


async def _policy_names(request: Request) -> tuple[list[Any], dict[int, str]]:
    rows, _ = await replication_policy.list_policies(
        backends(request), ListQuery(page_size=LIST_SIZE)
    )
    return rows, {r["id"]: r["name"] for r in rows}


async def _replications_page(
    request: Request, *, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    b = backends(request)
    policies, names = await _policy_names(request)
    registry_rows, _ = await replication_registry.list_registries(b, ListQuery(page_size=100))
    registry_names = {r["id"]: r["name"] for r in registry_rows}
    executions, _ = await replication.list_executions(
        b, ListQuery({}, (SortKey("id", True),), 1, 20), None, None, None
    )
    return render(
        request,
        "admin/replications.html",
        {
            "policies": policies,
            "registries": registry_rows,
            "registry_names": registry_names,
            "executions": [execution_row(r, names) for r in executions],
            "error": error,
            "form": form or Form({}),
        },
        status=status,
        title="Replications",
    )


@page
async def replications(request: Request) -> Response:
    await sysadmin(request)
    return await _replications_page(request)


@page
async def create_policy(request: Request) -> Response:
    form = await signed_form(request)
    principal = await sysadmin(request)
    try:
        body = _policy_body(form)
        await replication_policy.create_policy(backends(request), principal, body)
    except RegistryError as exc:
        return await _replications_page(
            request, error=exc.message, status=status_of(exc), form=form
        )
    return see_other(_notice(REPLICATIONS, f"Policy {body['name']} created."))


@page
async def run_policy(request: Request) -> Response:
    await signed_form(request)
    await sysadmin(request)
    policy = await replication_policy.get_policy(backends(request), path_id(request, "policy_id"))
    try:
        execution_id = await trigger_service.start_execution(backends(request), policy["id"])
    except RegistryError as exc:
        return await _replications_page(request, error=exc.message, status=status_of(exc))
    return see_other(
        _notice(REPLICATIONS, f"Execution #{execution_id} of {policy['name']} started.")
    )


@page
async def delete_policy(request: Request) -> Response:
    await signed_form(request)
    principal = await sysadmin(request)
    policy = await replication_policy.get_policy(backends(request), path_id(request, "policy_id"))
    try:
        await replication_policy.delete_policy(backends(request), principal, policy["id"])
    except RegistryError as exc:
        return await _replications_page(request, error=exc.message, status=status_of(exc))
    return see_other(_notice(REPLICATIONS, f"Policy {policy['name']} deleted."))


# ---------------------------------------------------------------------------- executions


async def _execution(request: Request) -> dict[str, Any]:
    await sysadmin(request)
    row = await replication.get_execution(backends(request), path_id(request, "execution_id"))
    _, names = await _policy_names(request)
    return execution_row(row, names)


async def _execution_page(
    request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    execution = await _execution(request)
    tasks, _ = await replication.list_tasks(
        backends(request), execution["id"], ListQuery(page_size=LIST_SIZE)
    )
    shown = [
        {
            "id": t["id"],
            "src_resource": t["src_resource"],
            "dst_resource": t["dst_resource"],
            "operation": t["operation"],
            "status": TASK_STATUS.get(t["status"] or "Pending", t["status"] or "Pending"),
            "attempts": t["attempts"] or 0,
            "ended": t["ended_at"],
            "has_log": t["job_id"] is not None,
        }
        for t in tasks
    ]
    return render(
        request,
        "admin/replication_execution.html",
        {"execution": execution, "tasks": shown, "error": error},
        status=status,
        title=f"Replication execution #{execution['id']}",
    )


@page
async def execution_page(request: Request) -> Response:
    return await _execution_page(request)


@page
async def execution_status(request: Request) -> Response:
    """An execution's row (``?view=summary`` its summary card): htmx swaps it in while the
    execution runs."""
    execution = await _execution(request)
    template = "admin/_execution_summary.html"
    if request.query_params.get("view") != "summary":
        template = "admin/_execution_row.html"
    return render(request, template, {"execution": execution})


@page
async def retry_execution(request: Request) -> Response:
    await signed_form(request)
    await sysadmin(request)
    execution_id = path_id(request, "execution_id")
    try:
        retried = await replication.retry_failed_tasks(backends(request), execution_id)
    except RegistryError as exc:
        return await _execution_page(request, error=exc.message, status=status_of(exc))
    return see_other(
        _notice(f"{REPLICATIONS}/executions/{execution_id}", f"{len(retried)} tasks retried.")
    )


@page
async def task_log(request: Request) -> Response:
    await sysadmin(request)
    text = await replication.task_log(
        backends(request), path_id(request, "execution_id"), path_id(request, "task_id")
    )
    return PlainTextResponse(text, headers=PAGE_HEADERS)


_E = f"{REPLICATIONS}/executions/{{execution_id}}"

routes = [
    Route(REGISTRIES, registries, methods=["GET"]),
    Route(REGISTRIES, create_registry, methods=["POST"]),
    Route(f"{REGISTRIES}/{{registry_id}}/ping", ping_registry, methods=["POST"]),
    Route(f"{REGISTRIES}/{{registry_id}}/delete", delete_registry, methods=["POST"]),
    Route(REPLICATIONS, replications, methods=["GET"]),
    Route(REPLICATIONS, create_policy, methods=["POST"]),
    Route(f"{REPLICATIONS}/{{policy_id}}/run", run_policy, methods=["POST"]),
    Route(f"{REPLICATIONS}/{{policy_id}}/delete", delete_policy, methods=["POST"]),
    Route(_E, execution_page, methods=["GET"]),
    Route(f"{_E}/status", execution_status, methods=["GET"]),
    Route(f"{_E}/retry", retry_execution, methods=["POST"]),
    Route(f"{_E}/tasks/{{task_id}}/log", task_log, methods=["GET"]),
]
