"""Project scopes as SQL conditions."""

from __future__ import annotations

from registry.db.project_scope import add_project_scope
from registry.db.query import Clauses
from registry.query import ProjectScope


def _condition(scope: ProjectScope) -> tuple[str, list[object]]:
    clauses = Clauses({})
    add_project_scope(clauses, scope, "p.id")
    return clauses.where(), clauses.params


def test_everything_adds_no_condition_and_nothing_matches_no_row() -> None:
    assert _condition(ProjectScope(everything=True)) == ("", [])
    assert _condition(ProjectScope()) == ("WHERE false", [])


def test_each_way_into_a_project_is_one_alternative_with_parameters() -> None:
    where, params = _condition(
        ProjectScope(
            public=True,
            member_roles=frozenset({3, 1}),  # guest, project admin
            user_id=7,
            group_ids=(3, 4),
            robot_id=9,
        )
    )
    assert where.count(" OR ") >= 2
    assert "WHERE public" in where
    assert "m.role = ANY($1::int[])" in where
    assert "rp.robot_id = $4" in where
    assert params == [[1, 3], 7, [3, 4], 9]
