"""Scheduling system jobs through registry.services.system_job."""

from __future__ import annotations

import pytest

from registry.auth.principal import ANONYMOUS, Principal
from registry.services import jobs, system_job
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, NotPermitted, ScheduleInvalid
from tests.integration.services.conftest import audit_lines


def test_parameters_get_harbors_defaults_and_bounds() -> None:
    assert system_job.gc_parameters(None) == {
        "delete_untagged": False,
        "dry_run": False,
        "workers": 1,
    }
    assert system_job.purge_parameters({"audit_retention_hour": 5})["audit_retention_hour"] == 5
    wrongs: tuple[object, ...] = ([], {"workers": 9})
    for wrong in wrongs:
        with pytest.raises(InvalidRequest):
            system_job.gc_parameters(wrong)
    with pytest.raises(InvalidRequest):
        system_job.purge_parameters({"audit_retention_hour": 0})


async def test_schedules_are_set_by_admins_and_audited(
    backends: Backends, admin: Principal
) -> None:
    parameters = system_job.gc_parameters({})
    await system_job.set_schedule(backends, admin, "GARBAGE_COLLECTION", "Daily", None, parameters)
    row = await jobs.get_schedule(backends, "GARBAGE_COLLECTION", system_job.OWNER)
    assert row is not None
    assert row["schedule_type"] == "Daily"
    with pytest.raises(ScheduleInvalid):
        await system_job.set_schedule(backends, admin, "GARBAGE_COLLECTION", "Often", None, {})
    with pytest.raises(NotPermitted):
        await system_job.set_schedule(backends, ANONYMOUS, "GARBAGE_COLLECTION", "None", "", {})
    assert ("update", "schedule", "GARBAGE_COLLECTION", "admin") in await audit_lines(backends)
