"""The job kinds Berth runs and the function behind each."""

from __future__ import annotations

from registry.jobs import gc, purge_audit, replication, retention, scan, webhook
from registry.jobs.context import Handler

HANDLERS: dict[str, Handler] = {
    gc.KIND: gc.run,
    purge_audit.KIND: purge_audit.run,
    retention.KIND: retention.run,
    webhook.KIND: webhook.run,
    scan.KIND: scan.run,
    scan.ALL_KIND: scan.run_all,
    replication.KIND: replication.run,
    replication.TASK_KIND: replication.run_task,
    replication.HEALTH_KIND: replication.check_health,
}
