"""Administration → Replications: the policies (create, edit in a form filled with the stored
rule, run, delete) and their executions with live progress (htmx polls the rows and the task
list while the execution runs), "Stop" for a running one, each task's log and "Retry failed".
The remote registries are in ``registries.py``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.auth.principal import Principal
from registry.portal.admin_form import admin_form, with_notice
from registry.portal.endpoint import page
from registry.portal.forms import Form, path_id
from registry.portal.security import backends, sysadmin
from registry.portal.templating import PAGE_HEADERS, render
from registry.query import ListQuery, SortKey
from registry.services import replication, replication_policy, replication_registry
from registry.services import replication_trigger as trigger_service

REPLICATIONS = "/admin/replications"
LIST_SIZE = 100
TRIGGERS = ("manual", "scheduled", "event_based")
# A task's job status as Harbor names a replication task's.
TASK_STATUS = {"Running": "InProgress", "Success": "Succeed", "Error": "Failed"}


# ---------------------------------------------------------------------------- policies


def policy_body(form: Form) -> dict[str, Any]:
    """The REST API's body for the rule the form describes (it replaces the whole rule)."""
    registry = {"id": int(form.get("registry"))} if form.get("registry").isdigit() else None
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
        "enabled": form.flag("enabled"),
    }
    if body["trigger"]["type"] == "scheduled":
        body["trigger"]["trigger_settings"] = {"cron": form.get("cron")}
    return body


def policy_form(row: Any) -> Form:
    """The rule form filled with a stored rule."""
    filters = {f.get("type"): f.get("value") for f in row["filters"] or [] if isinstance(f, dict)}
    trigger = row["trigger"] if isinstance(row["trigger"], dict) else {}
    fields = {
        "name": row["name"],
        "description": row["description"],
        "direction": "pull" if row["src_registry_id"] else "push",
        "registry": str(row["src_registry_id"] or row["dest_registry_id"] or ""),
        "name_filter": filters.get("name") if isinstance(filters.get("name"), str) else "",
        "tag_filter": filters.get("tag") if isinstance(filters.get("tag"), str) else "",
        "dest_namespace": row["dest_namespace"],
        "trigger": trigger.get("type", "manual"),
        "cron": (trigger.get("trigger_settings") or {}).get("cron", ""),
    }
    found = {key: [str(value or "")] for key, value in fields.items()}
    for flag in ("override", "replicate_deletion", "enabled"):
        if row[flag]:
            found[flag] = ["on"]
    return Form(found)


# A new rule starts as Harbor's form does: enabled, overriding what the destination has.
NEW_RULE = Form({"override": ["on"], "enabled": ["on"]})


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


async def _registries(request: Request) -> list[Any]:
    rows, _ = await replication_registry.list_registries(
        backends(request), ListQuery(page_size=LIST_SIZE)
    )
    return rows


async def _replications_page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    policies, names = await _policy_names(request)
    registry_rows = await _registries(request)
    executions, _ = await replication.list_executions(
        backends(request), ListQuery({}, (SortKey("id", True),), 1, 20), None, None, None
    )
    return render(
        request,
        "admin/replications.html",
        {
            "policies": policies,
            "registries": registry_rows,
            "registry_names": {r["id"]: r["name"] for r in registry_rows},
            "executions": [execution_row(r, names) for r in executions],
            "triggers": TRIGGERS,
            "error": error,
            "form": form or NEW_RULE,
            "editing": None,
        },
        status=status,
        title="Replications",
    )


async def _edit_page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    row = await replication_policy.get_policy(backends(request), path_id(request, "policy_id"))
    return render(
        request,
        "admin/replication_edit.html",
        {
            "registries": await _registries(request),
            "triggers": TRIGGERS,
            "error": error,
            "form": form or policy_form(row),
            "editing": row,
        },
        status=status,
        title=f"Edit replication rule {row['name']}",
    )


@page
async def replications(request: Request) -> Response:
    await sysadmin(request)
    return await _replications_page(request)


@page
async def edit_form(request: Request) -> Response:
    await sysadmin(request)
    return await _edit_page(request)


@admin_form(_replications_page)
async def create_policy(request: Request, principal: Principal, form: Form) -> str | Response:
    body = policy_body(form)
    await replication_policy.create_policy(backends(request), principal, body)
    return with_notice(REPLICATIONS, f"Policy {body['name']} created.")


@admin_form(_edit_page)
async def update_policy(request: Request, principal: Principal, form: Form) -> str | Response:
    body = policy_body(form)
    policy_id = path_id(request, "policy_id")
    await replication_policy.update_policy(backends(request), principal, policy_id, body)
    return with_notice(REPLICATIONS, f"Policy {body['name']} saved.")


async def _on_list(request: Request, error: str, status: int, form: Form) -> Response:
    """A row's button failed: the list again, with the message (not the row's form)."""
    return await _replications_page(request, error, status)


@admin_form(_on_list)
async def run_policy(request: Request, principal: Principal, form: Form) -> str | Response:
    policy = await replication_policy.get_policy(backends(request), path_id(request, "policy_id"))
    execution_id = await trigger_service.start_execution(backends(request), policy["id"])
    return with_notice(REPLICATIONS, f"Execution #{execution_id} of {policy['name']} started.")


@admin_form(_on_list)
async def delete_policy(request: Request, principal: Principal, form: Form) -> str | Response:
    policy = await replication_policy.get_policy(backends(request), path_id(request, "policy_id"))
    await replication_policy.delete_policy(backends(request), principal, policy["id"])
    return with_notice(REPLICATIONS, f"Policy {policy['name']} deleted.")


# ---------------------------------------------------------------------------- executions


async def _execution(request: Request) -> dict[str, Any]:
    await sysadmin(request)
    row = await replication.get_execution(backends(request), path_id(request, "execution_id"))
    _, names = await _policy_names(request)
    return execution_row(row, names)


async def _tasks(request: Request, execution_id: int) -> list[dict[str, Any]]:
    tasks, _ = await replication.list_tasks(
        backends(request), execution_id, ListQuery(page_size=LIST_SIZE)
    )
    return [
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


async def _execution_page(
    request: Request, error: str | None = None, status: int = 200, form: Form | None = None
) -> Response:
    execution = await _execution(request)
    return render(
        request,
        "admin/replication_execution.html",
        {"execution": execution, "tasks": await _tasks(request, execution["id"]), "error": error},
        status=status,
        title=f"Replication execution #{execution['id']}",
    )


@page
async def execution_page(request: Request) -> Response:
    return await _execution_page(request)


@page
async def execution_status(request: Request) -> Response:
    """An execution's row (``?view=summary`` its summary card, ``?view=tasks`` its task
    list): htmx swaps it in while the execution runs."""
    execution = await _execution(request)
    view = request.query_params.get("view")
    if view == "tasks":
        tasks = await _tasks(request, execution["id"])
        return render(
            request, "admin/_execution_tasks.html", {"execution": execution, "tasks": tasks}
        )
    template = "admin/_execution_summary.html" if view == "summary" else "admin/_execution_row.html"
    return render(request, template, {"execution": execution})


@admin_form(_execution_page)
async def stop_execution(request: Request, principal: Principal, form: Form) -> str | Response:
    execution_id = path_id(request, "execution_id")
    await replication.stop_execution(backends(request), execution_id)
    return with_notice(f"{REPLICATIONS}/executions/{execution_id}", "Stopping the execution.")


@admin_form(_execution_page)
async def retry_execution(request: Request, principal: Principal, form: Form) -> str | Response:
    execution_id = path_id(request, "execution_id")
    retried = await replication.retry_failed_tasks(backends(request), execution_id)
    return with_notice(
        f"{REPLICATIONS}/executions/{execution_id}", f"{len(retried)} tasks retried."
    )


@page
async def task_log(request: Request) -> Response:
    await sysadmin(request)
    text = await replication.task_log(
        backends(request), path_id(request, "execution_id"), path_id(request, "task_id")
    )
    return PlainTextResponse(text, headers=PAGE_HEADERS)


_P = f"{REPLICATIONS}/{{policy_id}}"
_E = f"{REPLICATIONS}/executions/{{execution_id}}"

routes = [
    Route(REPLICATIONS, replications, methods=["GET"]),
    Route(REPLICATIONS, create_policy, methods=["POST"]),
    Route(f"{_P}/edit", edit_form, methods=["GET"]),
    Route(_P, update_policy, methods=["POST"]),
    Route(f"{_P}/run", run_policy, methods=["POST"]),
    Route(f"{_P}/delete", delete_policy, methods=["POST"]),
    Route(_E, execution_page, methods=["GET"]),
    Route(f"{_E}/status", execution_status, methods=["GET"]),
    Route(f"{_E}/stop", stop_execution, methods=["POST"]),
    Route(f"{_E}/retry", retry_execution, methods=["POST"]),
    Route(f"{_E}/tasks/{{task_id}}/log", task_log, methods=["GET"]),
]
