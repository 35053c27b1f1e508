"""Quota listing and limits through registry.services.quota."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, QueryInvalid, SortKey
from registry.services import quota, user
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, NotPermitted, QuotaUnknown
from registry.services.project import create_project
from tests.integration.services.conftest import audit_lines, login


async def test_limits_are_listed_sorted_and_changed_by_admins(
    backends: Backends, admin: Principal
) -> None:
    small = await create_project(backends, admin, "small", {}, storage_limit=5000)
    await create_project(backends, admin, "large", {}, storage_limit=9000)
    rows, total = await quota.list_quotas(
        backends, None, ListQuery(sort=(SortKey("hard.storage", descending=True),))
    )
    assert [r["project_name"] for r in rows] == ["large", "small", "library"]  # library: -1
    rows, total = await quota.list_quotas(backends, small, ListQuery())
    assert (total, rows[0]["hard_storage"], rows[0]["used_storage"]) == (1, 5000, 0)
    with pytest.raises(QueryInvalid):
        await quota.list_quotas(backends, None, ListQuery(sort=(SortKey("name"),)))

    quota_id = rows[0]["id"]
    await user.create_user(backends, admin, "dev", "Passw0rdX")
    dev = await login(backends.identity, "dev", "Passw0rdX")
    with pytest.raises(NotPermitted):
        await quota.set_storage_limit(backends, dev, quota_id, 1)
    for wrong in (-2, True, "10"):
        with pytest.raises(InvalidRequest):
            await quota.set_storage_limit(backends, admin, quota_id, wrong)
    with pytest.raises(QuotaUnknown):
        await quota.set_storage_limit(backends, admin, 999, -1)
    await quota.set_storage_limit(backends, admin, quota_id, -1)
    assert (await quota.get_quota(backends, quota_id))["hard_storage"] == -1
    assert await quota.remaining(backends.db, small) is None
    assert ("update", "quota", str(quota_id), "admin") in await audit_lines(backends)
