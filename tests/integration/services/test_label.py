"""Labels through registry.services.label."""

from __future__ import annotations

import pytest

from registry.auth.principal import Principal
from registry.query import ListQuery, Match, QueryInvalid, SortKey, Term
from registry.services import label
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, LabelUnknown, ResourceExists
from registry.services.project import create_project
from tests.integration.services.conftest import audit_lines


async def test_labels_live_in_their_scope(backends: Backends, admin: Principal) -> None:
    project_id = await create_project(backends, admin, "team", {})
    texts = {"description": "", "color": "#fff"}
    first = await label.create_label(
        backends, admin, name="beta", scope=label.GLOBAL, project_id=None, **texts
    )
    await label.create_label(
        backends, admin, name="alpha", scope=label.GLOBAL, project_id=None, **texts
    )
    # The same name in a project is another label.
    await label.create_label(
        backends, admin, name="beta", scope=label.PROJECT, project_id=project_id, **texts
    )
    with pytest.raises(ResourceExists):
        await label.create_label(
            backends, admin, name="beta", scope=label.GLOBAL, project_id=None, **texts
        )
    with pytest.raises(InvalidRequest):
        label.check_scope("x")
    rows, total = await label.list_labels(
        backends, label.GLOBAL, None, None, ListQuery(sort=(SortKey("name"),))
    )
    assert (total, [r["name"] for r in rows]) == (2, ["alpha", "beta"])
    rows, total = await label.list_labels(backends, label.PROJECT, project_id, "et", ListQuery())
    assert (total, rows[0]["project_id"]) == (1, project_id)
    with pytest.raises(QueryInvalid):
        await label.list_labels(
            backends, label.GLOBAL, None, None, ListQuery({"color": Term(Match.EXACT, ("x",))})
        )
    row = await label.get_label(backends, first)
    with pytest.raises(ResourceExists):
        await label.update_label(backends, admin, row, name="alpha", description="", color="")
    await label.update_label(backends, admin, row, name="gamma", description="d", color="")
    await label.delete_label(backends, admin, await label.get_label(backends, first))
    with pytest.raises(LabelUnknown):
        await label.get_label(backends, first)
    assert [line for line in await audit_lines(backends) if line[1] == "label"] == [
        ("create", "label", "beta", "admin"),
        ("create", "label", "alpha", "admin"),
        ("create", "label", "beta", "admin"),
        ("update", "label", "gamma", "admin"),
        ("delete", "label", "gamma", "admin"),
    ]
