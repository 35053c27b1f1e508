"""Repositories through registry.services.repository."""

from __future__ import annotations

import pytest

from registry.auth.principal import ANONYMOUS, Principal
from registry.db import repositories
from registry.query import ListQuery, Match, QueryInvalid, SortKey, Term
from registry.services import project as project_service
from registry.services import repository
from registry.services.context import Backends
from registry.services.errors import RepositoryUnknown
from registry.services.project import find_by_id
from tests.integration.services.conftest import audit_lines


async def test_list_describe_and_delete(backends: Backends, admin: Principal) -> None:
    hidden_id = await project_service.create_project(backends, admin, "hidden", {})
    hidden = await find_by_id(backends.db, hidden_id)
    assert hidden is not None
    for name in ("hidden/a", "hidden/b"):
        await repositories.ensure(backends.db, hidden_id, name)
    rows, total = await repository.list_repositories(
        backends, admin, ListQuery(sort=(SortKey("name", descending=True),))
    )
    assert (total, [r["name"] for r in rows]) == (2, ["hidden/b", "hidden/a"])
    assert (await repository.list_repositories(backends, ANONYMOUS, ListQuery()))[1] == 0
    rows, total = await repository.list_in_project(
        backends, hidden, ListQuery({"name": Term(Match.CONTAINS, ("/a",))})
    )
    assert (total, rows[0]["name"]) == (1, "hidden/a")
    with pytest.raises(QueryInvalid):
        await repository.list_in_project(backends, hidden, ListQuery(sort=(SortKey("size"),)))

    row = await repository.get_repository(backends, "hidden/a")
    await repository.set_description(backends, admin, hidden, row, "the a")
    assert (await repository.get_repository(backends, "hidden/a"))["description"] == "the a"
    await repository.delete_repository(backends, admin, hidden, row)
    with pytest.raises(RepositoryUnknown):
        await repository.get_repository(backends, "hidden/a")
    assert [line for line in await audit_lines(backends) if line[1] == "repository"] == [
        ("update", "repository", "hidden/a", "admin"),
        ("delete", "repository", "hidden/a", "admin"),
    ]
