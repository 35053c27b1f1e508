"""A :class:`~registry.query.ProjectScope` as a SQL condition on a project id column."""

from __future__ import annotations

from registry.db.query import Clauses
from registry.query import ProjectScope


def add_project_scope(clauses: Clauses, scope: ProjectScope, project_id: str) -> None:
    """Keep only rows whose ``project_id`` (an expression written in Berth) is in scope; the
    principal's ids travel as parameters."""
    if scope.everything:
        return
    parts = []
    if scope.public:
        parts.append(f"{project_id} IN (SELECT id FROM projects WHERE public)")  # noqa: S608
    if scope.member_roles and scope.user_id is not None:
        roles = clauses.param(sorted(scope.member_roles))
        user = clauses.param(scope.user_id)
        groups = clauses.param(list(scope.group_ids))
        parts.append(
            f"""{project_id} IN (
            SELECT m.project_id FROM project_members m
            WHERE m.role = ANY({roles}::int[])
              AND ((m.entity_type = 'u' AND m.entity_id = {user})
                   OR (m.entity_type = 'g' AND m.entity_id = ANY({groups}::bigint[]))))"""  # noqa: S608
        )
    if scope.robot_id is not None:
        robot = clauses.param(scope.robot_id)
        parts.append(
            f"""{project_id} IN (
            SELECT sp.id FROM projects sp JOIN robot_permissions rp
              ON rp.namespace = sp.name OR rp.namespace = '*'
            WHERE rp.robot_id = {robot})"""  # noqa: S608
        )
    clauses.add("(" + " OR ".join(parts) + ")" if parts else "false")
