"""Configuration changes, statistics and search through registry.services.system."""

from __future__ import annotations

import pytest

from registry.auth.principal import ANONYMOUS, Principal
from registry.db import repositories
from registry.services import project as project_service
from registry.services import system, user
from registry.services.context import Backends
from registry.services.errors import NotPermitted
from tests.integration.services.conftest import audit_lines, login


async def test_statistics_and_search_cover_what_the_caller_sees(
    backends: Backends, admin: Principal
) -> None:
    hidden = await project_service.create_project(backends, admin, "hidden", {})
    await repositories.ensure(backends.db, hidden, "hidden/findme")
    shown = await project_service.create_project(backends, admin, "shown", {"public": "true"})
    await repositories.ensure(backends.db, shown, "shown/findme")

    everything = await system.statistics(backends, admin)
    assert everything["total_project_count"] == 3  # with library
    assert everything["private_repo_count"] == 1
    assert "total_storage_consumption" in everything
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    dev = await login(backends.identity, "dev", "Passw0rdX")
    visible = await system.statistics(backends, dev)
    assert (visible["total_project_count"], visible["private_repo_count"]) == (2, 0)
    assert "total_storage_consumption" not in visible

    found = await system.search(backends, admin, "findme")
    assert [r["name"] for r in found.repositories] == ["hidden/findme", "shown/findme"]
    found = await system.search(backends, ANONYMOUS, "o")
    assert [p["name"] for p in found.projects] == ["shown"]
    assert [r["name"] for r in found.repositories] == ["shown/findme"]


async def test_configuration_changes_name_the_keys_only(
    backends: Backends, admin: Principal
) -> None:
    await system.update_configuration(backends, admin, {"self_registration": True})
    assert (await backends.config.get())["self_registration"] is True
    assert ("update", "configuration", "self_registration", "admin") in await audit_lines(backends)
    with pytest.raises(NotPermitted):
        await system.update_configuration(backends, ANONYMOUS, {"self_registration": False})
