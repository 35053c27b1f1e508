"""Reading Harbor's ``q`` and ``sort`` into a list query."""

from __future__ import annotations

import pytest

from registry.query import ListQuery, Match, QueryInvalid, SortKey, Term, parse_filters, parse_sort


def test_each_term_kind_is_read() -> None:
    found = parse_filters("name=~web, size=[10~], tag={a b  c},id=7,level=(x y)")
    assert found == {
        "name": Term(Match.CONTAINS, ("web",)),
        "size": Term(Match.RANGE, ("10", "")),
        "tag": Term(Match.ANY_OF, ("a", "b", "c")),
        "id": Term(Match.EXACT, ("7",)),
        "level": Term(Match.ANY_OF, ("x", "y")),
    }


def test_commas_inside_brackets_do_not_split_terms() -> None:
    assert parse_filters("t=[2024-01-01,x~2025]") == {
        "t": Term(Match.RANGE, ("2024-01-01,x", "2025"))
    }


@pytest.mark.parametrize("text", ["novalue", "=v", "r=[a]"])
def test_malformed_terms_are_refused(text: str) -> None:
    with pytest.raises(QueryInvalid):
        parse_filters(text)


def test_nothing_asked_is_an_empty_query() -> None:
    assert parse_filters(None) == {}
    assert parse_filters("") == {}
    assert parse_sort(None) == ()


def test_sort_keys_keep_their_order_and_direction() -> None:
    assert parse_sort("-update_time,name") == (SortKey("update_time", True), SortKey("name"))


def test_single_values_and_derived_queries() -> None:
    query = ListQuery({"a": Term(Match.EXACT, ("1",))}, (SortKey("a"),), page=3, page_size=20)
    assert query.offset == 40
    assert query.single("a") == "1"
    assert query.single("b") is None
    assert query.without("a").filters == {}
    assert query.without_sort().sort == ()
    wider = query.with_filter("r", Term(Match.RANGE, ("1", "2")))
    assert set(wider.filters) == {"a", "r"}
    with pytest.raises(QueryInvalid):
        wider.single("r")
