"""Column maps turning list queries into parameterised SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.db import robots, users
from registry.db.query import Clauses, Column, coerce
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


@pytest.mark.parametrize(
    ("value", "cast", "coerced"),
    [
        ("42", "int", 42),
        ("-7", "bigint", -7),
        (str(2**63 - 1), "bigint", 2**63 - 1),
        ("TRUE", "bool", True),
        ("0", "bool", False),
        ("2026-12-02T01:02:03Z", "timestamptz", datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)),
        ("anything at all", "text", "anything at all"),
    ],
)
def test_values_are_coerced_to_their_columns_type(value: str, cast: str, coerced: object) -> None:
    assert coerce(value, cast) == coerced


@pytest.mark.parametrize(
    ("value", "cast"),
    [
        ("4.2", "int"),
        (str(2**63), "bigint"),
        (str(-(2**63) - 1), "bigint"),
        ("\u0664\u0662", "int"),  # digits, but not ASCII ones
        ("yes", "bool"),
        ("yesterday", "timestamptz"),
    ],
)
def test_values_that_do_not_fit_their_column_are_refused(value: str, cast: str) -> None:
    with pytest.raises(QueryInvalid, match="invalid value"):
        coerce(value, cast)


def test_a_range_with_one_open_end_bounds_one_side() -> None:
    columns = {"size": Column("a.size", "bigint")}
    clauses = Clauses(columns).filter({"size": Term(Match.RANGE, ("", "100"))})
    assert clauses.conditions == ["a.size <= $1::bigint"]
    assert clauses.params == [100]
    both_open = Clauses(columns).filter({"size": Term(Match.RANGE, ("", ""))})
    assert both_open.where() == ""
