"""The audit-log purge job."""

from __future__ import annotations

from typing import Any

from registry.jobs.context import JobContext
from registry.services.audit import PURGE_KIND as KIND
from registry.services.audit import purge_audit_logs

__all__ = ["KIND", "run"]


async def run(ctx: JobContext) -> dict[str, Any]:
    params = ctx.parameters
    hours = int(params.get("audit_retention_hour", 24 * 30))
    raw = params.get("include_operations") or ""
    operations = [op.strip() for op in str(raw).split(",") if op.strip()] or None
    dry_run = bool(params.get("dry_run", False))
    count = await purge_audit_logs(ctx.backends.db, hours, operations, dry_run)
    verb = "would delete" if dry_run else "deleted"
    await ctx.log(f"{verb} {count} audit records older than {hours} hours")
    return {"purged": count, "dry_run": dry_run}
