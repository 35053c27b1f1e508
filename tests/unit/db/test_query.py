"""Column maps turning list queries into parameterised SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.db import robots, users
from registry.db.query import Clauses, Column
from registry.query import Match, QueryInvalid, SortKey, Term

COLUMNS = {
    "name": Column("r.name"),
    "size": Column("r.size", "bigint"),
    "public": Column("p.public", "bool"),
    "time": Column("r.created_at", "timestamptz"),
    "robot": Column("r.robot", exact_is_contains=True),
}


def test_terms_become_conditions_with_every_value_a_parameter() -> None:
    clauses = Clauses(COLUMNS, params=["scope"])
    clauses.filter(
        {
            "name": Term(Match.CONTAINS, ("we'b",)),
            "size": Term(Match.RANGE, ("10", "")),
            "public": Term(Match.EXACT, ("TRUE",)),
            "time": Term(Match.ANY_OF, ("2024-01-01T00:00:00Z",)),
            "robot": Term(Match.EXACT, ("bot",)),
        }
    )
    assert clauses.where() == (
        "WHERE r.name::text ILIKE '%' || $2 || '%' AND r.size >= $3::bigint "
        "AND p.public = $4::bool AND r.created_at = ANY($5::timestamptz[]) "
        "AND r.robot::text ILIKE '%' || $6 || '%'"
    )
    assert clauses.params == [
        "scope",
        "we'b",
        10,
        True,
        [datetime(2024, 1, 1, tzinfo=UTC)],
        "bot",
    ]


def test_no_terms_no_where() -> None:
    assert Clauses(COLUMNS).filter({}).where() == ""


def test_sort_keys_come_before_the_stable_default() -> None:
    order = Clauses(COLUMNS).order_by((SortKey("size", True), SortKey("name")), "r.id")
    assert order == "ORDER BY r.size DESC, r.name ASC, r.id"
    assert Clauses(COLUMNS).order_by((), "r.id DESC") == "ORDER BY r.id DESC"


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(QueryInvalid, match="unsupported query key"):
        Clauses(COLUMNS).filter({"drop": Term(Match.EXACT, ("x",))})
    with pytest.raises(QueryInvalid, match="unsupported sort key"):
        Clauses(COLUMNS).order_by((SortKey("drop"),), "r.id")
    for key, value in (("size", "ten"), ("size", str(2**63)), ("public", "yes"), ("time", "x")):
        with pytest.raises(QueryInvalid, match="invalid value"):
            Clauses(COLUMNS).filter({key: Term(Match.EXACT, (value,))})


def test_the_account_lists_accept_harbors_keys() -> None:
    assert set(users.LIST_COLUMNS) == {"username"}
    assert set(robots.LIST_COLUMNS) == {"Level", "ProjectID", "name"}
