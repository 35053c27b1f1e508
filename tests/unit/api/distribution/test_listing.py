"""Pagination of tags/list and _catalog (``n`` and ``last``) and the link to the next page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from starlette.requests import Request

from registry.api.distribution.listing import MAX_PAGE, _next_link, _page
from registry.services.errors import PaginationInvalid


def request(query: str) -> Request:
    return Request(
        {"type": "http", "path": "/v2/_catalog", "query_string": query.encode(), "headers": []}
    )


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", (MAX_PAGE, None)),
        ("n=", (MAX_PAGE, None)),
        ("n=0", (0, None)),
        ("n=50&last=team%2Fapp", (50, "team/app")),
        # Larger pages are cut to the largest.
        (f"n={MAX_PAGE * 10}", (MAX_PAGE, None)),
        ("last=", (MAX_PAGE, None)),
    ],
)
def test_the_page_asked_for(query: str, page: tuple[int, str | None]) -> None:
    assert _page(request(query)) == page


@pytest.mark.parametrize("n", ["-1", "1.5", "ten", "\u0661"])
def test_n_is_a_non_negative_integer(n: str) -> None:
    with pytest.raises(PaginationInvalid, match="n must be a non-negative integer") as refused:
        _page(request(urlencode({"n": n})))
    assert refused.value.detail == {"n": n}


def test_last_may_not_hold_a_nul() -> None:
    with pytest.raises(PaginationInvalid, match="last must not contain a NUL"):
        _page(request("last=a%00b"))


def test_the_next_page_starts_after_the_last_entry_of_this_one() -> None:
    link = _next_link("/v2/team/app/tags/list", 2, "v1.0&x")["Link"]
    target, rel = link.split("; ")
    assert rel == 'rel="next"'
    url = urlsplit(target.strip("<>"))
    assert url.path == "/v2/team/app/tags/list"
    assert parse_qs(url.query) == {"n": ["2"], "last": ["v1.0&x"]}
