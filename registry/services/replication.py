"""Replication executions: starting one (manual, scheduled, event), listing what to copy into
tasks, running a task, stopping, retrying failed tasks, and reading it all back.

An execution's listing step is a REPLICATION job; each task is a REPLICATION_TASK job of its
own on the job service, so tasks run in parallel up to the workers' concurrency, each with
its own attempts (backoff on an unreachable registry) and log. A task job records its own end
and then settles its execution: the call that finds nothing left to run writes the final
status, exactly once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.db import jobs as jobs_db
from registry.db import replication as replication_db
from registry.events import REPLICATION, Event
from registry.query import ListQuery
from registry.replication.adapter import Adapter, AdapterError, NotFound, Unreachable
from registry.replication.copy import Copier
from registry.replication.naming import (
    NamingInvalid,
    check_path_components,
    destination_repository,
)
from registry.services import jobs as job_service
from registry.services import notify, replication_registry, webhook
from registry.services.context import Backends
from registry.services.errors import (
    InvalidRequest,
    JobServiceUnavailable,
    ResourceUnknown,
    RetryLater,
    ServiceUnavailable,
)
from registry.services.project import project_for
from registry.services.replication_local import LocalAdapter
from registry.services.replication_policy import Selection, get_policy
from registry.services.replication_trigger import JOB_TRIGGERS, TRIGGER_NAMES

TASK_KIND = "REPLICATION_TASK"
TASK_MAX_ATTEMPTS = 3
# Seconds before attempt n+1 of a task whose registry was unreachable: 2, 4, 8 … at most 60.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 60.0
OPERATOR = "replication"

Log = Callable[[str], Awaitable[None]]

log = logging.getLogger(__name__)


def _execution_unknown(execution_id: int) -> ResourceUnknown:
    return ResourceUnknown(f"replication execution {execution_id} not found")


# --- reading -----------------------------------------------------------------------------------


def _unsettled(row: asyncpg.Record) -> bool:
    """Nothing left to run, yet not finished: its last task was ended by someone else (the
    scheduler failing the job of a worker that died)."""
    return (
        row["status"] == "InProgress"
        and row["listed"]
        and not row["in_progress"]
        and row["listing_status"] not in ("Pending", "Running")
    )


async def get_execution(b: Backends, execution_id: int) -> asyncpg.Record:
    row = await replication_db.get_execution(b.db, execution_id)
    if row is None:
        raise _execution_unknown(execution_id)
    if _unsettled(row):
        await settle_execution(b, execution_id)
        row = await replication_db.get_execution(b.db, execution_id)
        assert row is not None
    return row


async def list_executions(
    b: Backends,
    query: ListQuery,
    policy_id: int | None,
    status: str | None,
    trigger: str | None,
) -> tuple[list[asyncpg.Record], int]:
    scope: list[tuple[str, object]] = []
    if policy_id is not None:
        scope.append(("e.policy_id = {}", policy_id))
    if status:
        scope.append(("e.status = {}", status))
    if trigger:
        scope.append(("e.trigger = {}", trigger))
    return await replication_db.list_executions(b.db, query, scope)


async def list_tasks(
    b: Backends, execution_id: int, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    await get_execution(b, execution_id)
    return await replication_db.list_tasks(b.db, execution_id, query.page_size, query.offset)


async def task_log(b: Backends, execution_id: int, task_id: int) -> str:
    task = await replication_db.get_task(b.db, execution_id, task_id)
    if task is None or task["job_id"] is None:
        raise ResourceUnknown(f"task {task_id} of execution {execution_id} not found")
    return await jobs_db.log_text(b.db, task["job_id"]) or ""


# --- starting, stopping, retrying --------------------------------------------------------------


async def stop_execution(b: Backends, execution_id: int) -> None:
    row = await get_execution(b, execution_id)
    if row["status"] != "InProgress":
        raise InvalidRequest(f"execution {execution_id} is not in progress")
    for job_id in await replication_db.unfinished_job_ids(b.db, execution_id):
        await jobs_db.request_stop(b.db, job_id)
    await settle_execution(b, execution_id, stopping=True)


async def retry_failed_tasks(b: Backends, execution_id: int) -> list[int]:
    """Run again the tasks of a finished execution that failed (or were stopped); the others
    are not touched. Returns the jobs sent."""
    row = await get_execution(b, execution_id)
    if row["status"] == "InProgress":
        raise InvalidRequest(f"execution {execution_id} is still in progress")
    if not row["listed"]:
        raise InvalidRequest(
            f"execution {execution_id} failed before its tasks were known; start a new one"
        )
    async with b.db.acquire() as conn, conn.transaction():
        job_ids = await replication_db.reset_failed_tasks(conn, execution_id)
        if not job_ids:
            raise InvalidRequest(f"execution {execution_id} has no failed tasks")
        await replication_db.reopen_execution(conn, execution_id)
    for job_id in job_ids:
        # A broker that is down now: the scheduler sends them once it is back.
        with contextlib.suppress(JobServiceUnavailable):
            await job_service.dispatch(b, job_id)
    return job_ids


async def settle_execution(b: Backends, execution_id: int, *, stopping: bool = False) -> None:
    """Write the execution's final status when nothing of it is left to run."""
    row = await replication_db.get_execution(b.db, execution_id)
    if row is None or row["status"] != "InProgress":
        return
    if row["listing_status"] in ("Pending", "Running") or row["in_progress"]:
        return
    if not row["listed"]:
        status = "Stopped" if stopping or row["listing_status"] == "Stopped" else "Failed"
    elif row["stopped"] or stopping:
        status = "Stopped"
    elif row["failed"]:
        status = "Failed"
    else:
        status = "Succeed"
    text = f"{row['failed']} of {row['total']} tasks failed" if status == "Failed" else ""
    await replication_db.finish_execution(b.db, execution_id, status, text)


# --- running -----------------------------------------------------------------------------------


@dataclass
class Sides:
    source: Adapter
    destination: Adapter
    source_registry: asyncpg.Record | None
    destination_registry: asyncpg.Record | None

    async def close(self) -> None:
        await self.source.close()
        await self.destination.close()


async def _sides(b: Backends, policy: asyncpg.Record) -> Sides:
    local = LocalAdapter(b, OPERATOR)
    if policy["src_registry_id"] is not None:
        remote = await replication_registry.get_registry(b, policy["src_registry_id"])
        return Sides(replication_registry.adapter_of(b, remote), local, remote, None)
    remote = await replication_registry.get_registry(b, policy["dest_registry_id"])
    return Sides(local, replication_registry.adapter_of(b, remote), None, remote)


@dataclass(frozen=True, slots=True)
class PlannedTask:
    operation: str
    source_repository: str
    destination_repository: str
    digest: str
    tags: list[str]

    @property
    def src_resource(self) -> str:
        return _resource(self.source_repository, self.digest, self.tags)

    @property
    def dst_resource(self) -> str:
        return _resource(self.destination_repository, self.digest, self.tags)


def _resource(repository: str, digest: str, tags: list[str]) -> str:
    return f"{repository}:[{','.join(tags)}]" if tags else f"{repository}@{digest}"


async def _plan(
    policy: asyncpg.Record, sides: Sides, only: dict[str, Any] | None, log_line: Log
) -> list[PlannedTask]:
    selection = Selection.of(policy)
    namespace = policy["dest_namespace"]
    count = policy["dest_namespace_replace_count"]
    rule = sides.destination.info().supported_repository_path_component_type

    def destination(repository: str) -> str:
        target = destination_repository(repository, namespace, count)
        check_path_components(target, rule)
        return target

    if only is not None and only.get("deleted"):
        repository = str(only["repository"])
        if not selection.repository(repository):
            return []
        tags = [str(t) for t in only.get("tags") or []]
        if tags and not selection.tags(tuple(tags)):
            return []
        operation = "tag deletion" if tags else "deletion"
        return [
            PlannedTask(operation, repository, destination(repository), str(only["digest"]), tags)
        ]
    if only is not None:
        repositories = [str(only["repository"])]
    else:
        repositories = await sides.source.list_repositories()
    planned: list[PlannedTask] = []
    for repository in repositories:
        if not selection.repository(repository):
            continue
        artifacts = await sides.source.list_artifacts(repository)
        for artifact in artifacts:
            if only is not None and only.get("digest") and artifact.digest != only["digest"]:
                continue
            selected = selection.artifact(artifact)
            if selected is None:
                continue
            planned.append(
                PlannedTask("copy", repository, destination(repository), artifact.digest, selected)
            )
    await log_line(f"{len(planned)} artifacts selected in {len(repositories)} repositories")
    return planned


async def run_listing(
    b: Backends, parameters: dict[str, Any], job_id: int, trigger: str, log_line: Log
) -> dict[str, Any]:
    """The REPLICATION job: find what the policy selects and record one task per artifact.
    A scheduled start (parameters name only the policy) records its execution first."""
    policy = await get_policy(b, int(parameters["policy_id"]))
    execution_id = parameters.get("execution_id")
    if execution_id is None:
        execution_id = await replication_db.create_execution(
            b.db, policy["id"], TRIGGER_NAMES.get(trigger, "scheduled")
        )
        await replication_db.set_execution_job(b.db, execution_id, job_id)
    execution_id = int(execution_id)
    await log_line(f"execution {execution_id} of policy {policy['name']}")
    sides = await _sides(b, policy)
    try:
        try:
            planned = await _plan(policy, sides, parameters.get("only"), log_line)
            copies = [p.destination_repository for p in planned if p.operation == "copy"]
            if copies:
                await sides.destination.prepare_for_push(sorted(set(copies)))
        except (AdapterError, NamingInvalid) as exc:
            await _record_registry_health(b, sides, exc)
            await log_line(f"listing failed: {exc}")
            await replication_db.finish_execution(b.db, execution_id, "Failed", str(exc))
            raise
    finally:
        await sides.close()
    job_ids = []
    async with b.db.acquire() as conn, conn.transaction():
        for task in planned:
            task_parameters = {
                "execution_id": execution_id,
                "policy_id": policy["id"],
                "operation": task.operation,
                "source_repository": task.source_repository,
                "destination_repository": task.destination_repository,
                "digest": task.digest,
                "tags": task.tags,
                "max_attempts": TASK_MAX_ATTEMPTS,
            }
            task_job = await jobs_db.create(conn, TASK_KIND, task_parameters, trigger)
            await replication_db.create_task(
                conn,
                execution_id,
                task_job,
                task.operation,
                "image",
                task.src_resource,
                task.dst_resource,
            )
            job_ids.append(task_job)
        await replication_db.mark_listed(conn, execution_id)
    for task_job in job_ids:
        with contextlib.suppress(JobServiceUnavailable):
            await job_service.dispatch(b, task_job)
    # Finished here so the settling below sees the listing done.
    await jobs_db.finish(b.db, job_id, "Success", {"tasks": len(job_ids)})
    await settle_execution(b, execution_id)
    return {"execution_id": execution_id, "tasks": len(job_ids)}


async def _record_registry_health(b: Backends, sides: Sides, exc: Exception) -> None:
    if isinstance(exc, Unreachable):
        for row in (sides.source_registry, sides.destination_registry):
            if row is not None:
                await replication_registry.mark_status(b, row["id"], "unhealthy")


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS))


async def run_task(
    b: Backends, parameters: dict[str, Any], job_id: int, attempt: int, log_line: Log
) -> dict[str, Any]:
    """The REPLICATION_TASK job: copy (or delete) one artifact. An unreachable registry is
    retried with backoff; the last attempt's failure, like any other failure, ends the task
    as Error and settles the execution."""
    max_attempts = int(parameters.get("max_attempts", TASK_MAX_ATTEMPTS))
    try:
        result = await _perform(b, parameters, log_line)
    except (Unreachable, ServiceUnavailable) as exc:
        if await jobs_db.stop_requested(b.db, job_id):
            await log_line(f"stopped after: {exc}")
            await _end_task(b, parameters, job_id, "Stopped")
            raise
        if attempt < max_attempts:
            raise RetryLater(str(exc), _backoff(attempt)) from exc
        await log_line(f"failed: {exc}")
        await _end_task(b, parameters, job_id, "Error")
        raise
    except Exception as exc:
        await log_line(f"failed: {type(exc).__name__}: {exc}")
        await _end_task(b, parameters, job_id, "Error")
        raise
    await _end_task(b, parameters, job_id, "Success", result)
    return result


async def _end_task(
    b: Backends,
    parameters: dict[str, Any],
    job_id: int,
    status: str,
    result: dict[str, Any] | None = None,
) -> None:
    execution_id = int(parameters["execution_id"])
    await jobs_db.finish(b.db, job_id, status, result)
    await settle_execution(b, execution_id)
    await _notify_task(b, parameters, job_id, status)


async def _side_json(b: Backends, registry_id: int | None, repository: str) -> dict[str, Any]:
    namespace = repository.split("/", 1)[0]
    if registry_id is None:
        return {
            "registry_name": "Local",
            "registry_type": "harbor",
            "endpoint": b.settings.external_url or f"http://{notify.registry_host(b.settings)}",
            "namespace": namespace,
        }
    row = await replication_registry.get_registry(b, registry_id)
    return {
        "registry_name": row["name"],
        "registry_type": row["type"],
        "endpoint": row["url"],
        "namespace": namespace,
    }


async def _notify_task(b: Backends, parameters: dict[str, Any], job_id: int, status: str) -> None:
    """Harbor's REPLICATION webhook event for a finished task, sent to the webhook policies of
    the local project involved (the source of a push, the destination of a pull). Never
    raises: the task's outcome is recorded already."""
    try:
        policy = await get_policy(b, int(parameters["policy_id"]))
        source = str(parameters["source_repository"])
        destination = str(parameters["destination_repository"])
        local = destination if policy["src_registry_id"] is not None else source
        project = await project_for(b.db, local)
        execution = await replication_db.get_execution(b.db, int(parameters["execution_id"]))
        tags = [str(t) for t in parameters.get("tags") or []]
        name = source.split("/", 1)[1] if "/" in source else source
        name_tag = f"{name}:{','.join(tags)}" if tags else f"{name}@{parameters['digest']}"
        job_status = "Success" if status == "Success" else "Failed"
        artifacts = [{"type": "image", "status": job_status, "name_tag": name_tag}]
        replication_data = {
            "harbor_hostname": notify.registry_host(b.settings).split(":")[0],
            "job_status": job_status,
            "artifact_type": "image",
            "authentication_type": "basic",
            "override_mode": policy["override"],
            "trigger_type": JOB_TRIGGERS.get(execution["trigger"] if execution else "", "MANUAL"),
            "policy_creator": policy["creator"],
            "execution_timestamp": int(execution["start_time"].timestamp()) if execution else 0,
            "src_resource": await _side_json(b, policy["src_registry_id"], source),
            "dest_resource": await _side_json(b, policy["dest_registry_id"], destination),
            "successful_artifact" if job_status == "Success" else "failed_artifact": artifacts,
        }
        event = Event(
            type=REPLICATION,
            project_id=project.id,
            project_name=project.name,
            operator=policy["creator"],
            public=project.public,
            extra={"replication": replication_data},
        )
        await webhook.notify(b, event)
    except Exception:
        log.exception("the REPLICATION event of task job %d was not sent", job_id)


async def _perform(b: Backends, parameters: dict[str, Any], log_line: Log) -> dict[str, Any]:
    policy = await get_policy(b, int(parameters["policy_id"]))
    sides = await _sides(b, policy)
    source_repository = str(parameters["source_repository"])
    destination_repository = str(parameters["destination_repository"])
    digest = str(parameters["digest"])
    tags = [str(t) for t in parameters.get("tags") or []]
    try:
        operation = parameters["operation"]
        if operation == "copy":
            await log_line(
                f"copying {_resource(source_repository, digest, tags)} to "
                f"{_resource(destination_repository, digest, tags)}"
            )
            copier = Copier(
                sides.source,
                sides.destination,
                source_repository,
                destination_repository,
                log_line,
                kb_per_second=policy["speed"],
                chunk_size=b.settings.replication_chunk_bytes if policy["copy_by_chunk"] else 0,
            )
            stats = await copier.copy_artifact(digest, tags, override=policy["override"])
            return stats.as_dict()
        if operation == "tag deletion":
            for tag in tags:
                with contextlib.suppress(NotFound):
                    await sides.destination.delete_tag(destination_repository, tag)
                await log_line(f"deleted tag {destination_repository}:{tag}")
            return {"deleted_tags": tags}
        with contextlib.suppress(NotFound):
            await sides.destination.delete_manifest(destination_repository, digest)
        await log_line(f"deleted {destination_repository}@{digest}")
        return {"deleted": digest}
    finally:
        await sides.close()
