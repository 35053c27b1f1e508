"""Harbor's list conventions on the management API: the page a request asks for, its list
query, and the headers that answer a list."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request

from registry.api.v2_0.errors import BadRequest
from registry.api.v2_0.listing import Page, list_headers, list_query, page_of
from registry.query import Match, SortKey, Term


def request(query: str, path: str = "/api/v2.0/projects") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"host", b"registry.example")],
            "scheme": "https",
            "server": ("registry.example", 443),
        }
    )


@pytest.mark.parametrize(
    ("query", "page", "page_size"),
    [
        ("", 1, 10),
        ("page=&page_size=", 1, 10),
        ("page=3&page_size=25", 3, 25),
        # Larger pages are cut to the largest, as Harbor does.
        ("page_size=500", 1, 100),
        ("page=999999999", 999999999, 10),
    ],
)
def test_the_page_a_request_asks_for(query: str, page: int, page_size: int) -> None:
    assert page_of(request(query)) == Page(page, page_size)


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "page=1.5", "page=x", "page_size=0", "page=1000000000", "page=%D9%A3"],
)
def test_a_page_that_is_no_positive_integer_is_refused(query: str) -> None:
    name = query.split("=", 1)[0]
    with pytest.raises(BadRequest, match=f"{name} must be a positive integer"):
        page_of(request(query))


def test_the_offset_of_a_page() -> None:
    assert Page(1, 10).offset == 0
    assert Page(3, 25).offset == 50


def test_the_list_query_of_a_request() -> None:
    query = list_query(request("q=name%3D~lib&sort=-creation_time,name&page=2&page_size=5"))
    assert query.filters == {"name": Term(Match.CONTAINS, ("lib",))}
    assert query.sort == (SortKey("creation_time", descending=True), SortKey("name"))
    assert (query.page, query.page_size) == (2, 5)


def test_a_list_may_read_its_filters_from_another_parameter_or_none() -> None:
    named = list_query(request("filter=a%3Db&q=c%3Dd"), filters="filter")
    assert named.filters == {"a": Term(Match.EXACT, ("b",))}
    assert list_query(request("q=a%3Db"), filters=None).filters == {}


def links(header: str) -> dict[str, dict[str, list[str]]]:
    found = {}
    for entry in header.split(", "):
        target, rel = entry.split("; ")
        url = urlsplit(target.strip("<>"))
        assert url.path == "/api/v2.0/projects"
        found[rel.removeprefix('rel="').rstrip('"')] = parse_qs(url.query)
    return found


def test_a_middle_page_links_both_ways_keeping_the_query() -> None:
    headers = list_headers(request("q=public%3Dtrue&page=2&page_size=10"), Page(2, 10), 35)
    assert headers["X-Total-Count"] == "35"
    assert links(headers["Link"]) == {
        "prev": {"q": ["public=true"], "page": ["1"], "page_size": ["10"]},
        "next": {"q": ["public=true"], "page": ["3"], "page_size": ["10"]},
    }


def test_the_first_and_last_pages_link_one_way() -> None:
    first = list_headers(request(""), Page(1, 10), 35)
    assert list(links(first["Link"])) == ["next"]
    last = list_headers(request("page=4"), Page(4, 10), 35)
    assert list(links(last["Link"])) == ["prev"]


def test_a_single_page_has_no_links() -> None:
    assert list_headers(request(""), Page(1, 10), 10) == {"X-Total-Count": "10"}
    assert list_headers(request(""), Page(1, 10), 0) == {"X-Total-Count": "0"}
