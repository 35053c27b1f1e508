"""Reading the audit log: everything for system admins, the records of their projects for
members allowed to read logs there."""

from __future__ import annotations

import asyncpg

from registry.auth.principal import Principal
from registry.db import audit
from registry.query import ListQuery, ProjectScope
from registry.rbac import Action, ProjectRef, project_scope
from registry.services.context import Backends


async def list_audit_logs(
    b: Backends, actor: Principal, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    # What was recorded a moment ago (by this very caller, often) is part of the answer.
    await b.audit.flush()
    return await audit.list_logs(b.db, query, project_scope(actor, Action.READ_LOGS))


async def list_project_logs(
    b: Backends, project: ProjectRef, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """The records of one project, for a caller already allowed to read its logs."""
    await b.audit.flush()
    return await audit.list_logs(b.db, query, ProjectScope(everything=True), project.id)
