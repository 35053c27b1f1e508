"""Who reads which audit records, through registry.services.audit_log."""

from __future__ import annotations

from registry.auth.principal import ANONYMOUS, Principal
from registry.query import ListQuery, Match, Term
from registry.rbac import Role
from registry.services import audit_log, member, robot, user
from registry.services.context import Backends
from registry.services.project import create_project, find_by_id
from tests.integration.services.conftest import login


async def test_members_read_their_projects_records_and_admins_everything(
    backends: Backends, admin: Principal
) -> None:
    for name in ("guest", "limited", "outsider"):
        await user.create_user(backends, admin, name, "Passw0rdX")
    team = await find_by_id(backends.db, await create_project(backends, admin, "team", {}))
    assert team is not None
    await create_project(backends, admin, "other", {"public": "true"})
    await member.add_member(backends, admin, team, member.UserMember(username="guest"), Role.GUEST)
    await member.add_member(
        backends, admin, team, member.UserMember(username="limited"), Role.LIMITED_GUEST
    )
    made = await robot.create_robot(
        backends,
        admin,
        robot.RobotSpec(
            name="ci",
            level="project",
            permissions=[
                {
                    "kind": "project",
                    "namespace": "team",
                    "access": [{"resource": "log", "action": "list"}],
                }
            ],
        ),
    )

    async def seen_by(principal: Principal) -> set[str]:
        rows, total = await audit_log.list_audit_logs(backends, principal, ListQuery(page_size=100))
        assert total == len(rows)
        return {r["resource"] for r in rows}

    everything = await seen_by(admin)
    assert {"guest", "team", "other", "team:guest", "robot$team+ci"} <= everything
    rows, _ = await audit_log.list_project_logs(backends, team, ListQuery(page_size=100))
    team_records = {r["resource"] for r in rows}
    assert team_records == {"team", "team:guest", "team:limited", "robot$team+ci"}
    assert await seen_by(await login(backends.identity, "guest", "Passw0rdX")) == team_records
    for nobody in (
        await login(backends.identity, "limited", "Passw0rdX"),
        await login(backends.identity, "outsider", "Passw0rdX"),
        await login(backends.identity, made.full_name, made.secret),
        ANONYMOUS,
    ):
        assert await seen_by(nobody) == set()

    rows, total = await audit_log.list_project_logs(
        backends, team, ListQuery({"operation": Term(Match.EXACT, ("create",))})
    )
    assert total == len(rows) > 0
    assert all(r["project_id"] == team.id for r in rows)
