"""The tag-retention job: one execution (a RETENTION job) with one task per repository
(RETENTION_TASK jobs, ``parent_id`` = the execution), as Harbor shows them.

The tasks are recorded up front, so the API lists them all while the execution runs, and then
run one after the other in the execution's own worker run: each has its own status, log and
result (Harbor's ``total``/``retained``). A stop request reaches the execution and its
unfinished tasks at once (``jobs.request_stop``). Run again after a crash, the execution picks
up the tasks it recorded and runs those that have not finished.
"""

from __future__ import annotations

import logging
from typing import Any

from registry.db import jobs
from registry.jobs.context import JobContext
from registry.rbac import ProjectRef
from registry.services import notify, retention

KIND = retention.EXECUTION_KIND
TASK_KIND = retention.TASK_KIND

log = logging.getLogger(__name__)


class TasksFailed(Exception):
    """Some repositories could not be processed; their tasks say why."""


async def _tasks(ctx: JobContext, policy: retention.Policy, dry_run: bool) -> list[int]:
    existing = await jobs.children(ctx.backends.db, ctx.job_id)
    if existing:
        return [row["id"] for row in existing]
    row = await jobs.get(ctx.backends.db, ctx.job_id)
    trigger = row["trigger"] if row is not None else "MANUAL"
    created = []
    for repository in await retention.repositories_in_scope(ctx.backends, policy):
        parameters = {
            "policy_id": policy.id,
            "repository": repository.name,
            "repository_id": repository.id,
            "dry_run": dry_run,
        }
        created.append(
            await jobs.create(ctx.backends.db, TASK_KIND, parameters, trigger, ctx.job_id)
        )
    return created


async def _run_task(
    ctx: JobContext, policy: retention.Policy, project: ProjectRef, task_id: int
) -> retention.RepositoryResult | None:
    """Run one task; None when it did not finish with a result (stopped before it began, or
    failed)."""
    db = ctx.backends.db
    row = await jobs.get(db, task_id)
    if row is None or row["status"] in jobs.FINISHED:
        return None
    if await ctx.should_stop() or not await jobs.start(db, task_id):
        await jobs.finish(db, task_id, "Stopped")
        return None
    params = dict(row["parameters"] or {})
    task = JobContext(ctx.backends, task_id, TASK_KIND, params)
    repository = retention.Repository(int(params["repository_id"]), str(params["repository"]))
    try:
        result = await retention.apply_to_repository(
            ctx.backends,
            policy,
            project,
            repository,
            dry_run=bool(params.get("dry_run", False)),
            log=task.log,
            should_stop=task.should_stop,
        )
    except Exception as exc:
        log.exception("retention task %d (%s) failed", task_id, repository.name)
        await task.log(f"failed: {type(exc).__name__}: {exc}", "ERROR")
        await jobs.finish(db, task_id, "Error")
        raise
    status = "Stopped" if result.stopped else "Success"
    await task.log(f"finished: {status}")
    await jobs.finish(db, task_id, status, result.as_dict())
    return result


async def run(ctx: JobContext) -> dict[str, Any]:
    policy_id = int(ctx.parameters["policy_id"])
    dry_run = bool(ctx.parameters.get("dry_run", False))
    b = ctx.backends
    policy = await retention.load_policy(b, policy_id)
    if policy is None:
        await ctx.log(f"retention policy {policy_id} no longer exists; nothing to do")
        return {"policy_id": policy_id, "dry_run": dry_run, "repositories": 0}
    project = await retention.project_of(b, policy)
    await ctx.log(
        f"retention policy {policy.id} of project {project.name} "
        f"({len(policy.rules)} rules, dry_run={dry_run})"
    )
    task_ids = await _tasks(ctx, policy, dry_run)
    await ctx.log(f"{len(task_ids)} repositories to process")
    summary = retention.RetentionResult(policy.id, dry_run)
    failed = 0
    for task_id in task_ids:
        try:
            result = await _run_task(ctx, policy, project, task_id)
        except Exception:
            failed += 1
            continue
        if result is not None:
            summary.repositories.append(result)
    totals = summary.as_dict()
    await ctx.log(
        f"total {totals['total']}, retained {totals['retained']}, "
        f"{'would delete' if dry_run else 'deleted'} {totals['deleted']}"
    )
    if not dry_run:
        # Awaited, not fired and forgotten: the worker's event loop does not run between jobs.
        await notify.notify_tag_retention(
            b,
            project,
            _webhook_summary(policy.id, summary),
            ctx.parameters.get("trigger", "MANUAL"),
        )
    if failed:
        raise TasksFailed(f"{failed} of {len(task_ids)} repositories failed")
    return totals


def _webhook_summary(policy_id: int, summary: retention.RetentionResult) -> dict[str, Any]:
    """Harbor's ``event_data.retention`` of a TAG_RETENTION event."""
    totals = summary.as_dict()
    deleted = [
        {
            "type": "image",
            "status": "SUCCESS",
            "name_tag": f"{repo.repository}:{','.join(a.tags) or a.digest}",
        }
        for repo in summary.repositories
        for a in repo.artifacts
        if a.outcome == retention.DELETED
    ]
    return {
        "total": totals["total"],
        "retained": totals["retained"],
        "retention_policy_id": policy_id,
        "result": "SUCCESS",
        "deleted_artifact": deleted,
    }
