"""The audit log: who did what to which resource, when."""

from __future__ import annotations

from registry.db.pool import Executor


async def record(
    db: Executor,
    *,
    operation: str,
    resource_type: str,
    resource: str,
    username: str,
    project_id: int | None = None,
) -> None:
    await db.execute(
        """
        INSERT INTO audit_logs (project_id, operation, resource_type, resource, username)
        VALUES ($1, $2, $3, $4, $5)
        """,
        project_id,
        operation,
        resource_type,
        resource,
        username,
    )
