"""Harbor's list conventions: ``page``/``page_size``, ``q``, ``sort``, ``X-Total-Count``, ``Link``.

A request becomes a :class:`~registry.query.ListQuery` (``q``: ``k=v`` exact, ``k=~v``
contains, ``k=[a~b]`` range, ``k={a b c}`` any of; ``sort``: keys, ``-key`` descending); the
list's ``db`` module decides which keys it knows. Here only the page and the headers that
answer a list are rendered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from registry.api.v2_0.endpoint import json_response
from registry.api.v2_0.errors import BadRequest
from registry.query import ListQuery, parse_filters, parse_sort

Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_of(request: Request) -> Page:
    def number(name: str, default: int) -> int:
        text = request.query_params.get(name)
        if text is None or text == "":
            return default
        if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
            raise BadRequest(f"{name} must be a positive integer below 1000000000")
        return int(text)

    return Page(number("page", 1), min(number("page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))


def list_query(request: Request, filters: str | None = "q") -> ListQuery:
    """The list query a request asks for: ``q`` (or the parameter ``filters`` names; None for
    lists that take no filters), ``sort``, ``page``, ``page_size``. Which keys are known is for
    the list's column map to say."""
    page = page_of(request)
    return ListQuery(
        parse_filters(request.query_params.get(filters) if filters else None),
        parse_sort(request.query_params.get("sort")),
        page.page,
        page.page_size,
    )


class Paged(Protocol):
    @property
    def page(self) -> int: ...

    @property
    def page_size(self) -> int: ...

    @property
    def offset(self) -> int: ...


def list_headers(request: Request, page: Paged, total: int) -> dict[str, str]:
    headers = {"X-Total-Count": str(total)}
    links = []
    base = dict(request.query_params)

    def link(number: int, rel: str) -> str:
        query = urlencode({**base, "page": number, "page_size": page.page_size})
        return f'<{request.url.path}?{query}>; rel="{rel}"'

    if page.page > 1:
        links.append(link(page.page - 1, "prev"))
    if page.offset + page.page_size < total:
        links.append(link(page.page + 1, "next"))
    if links:
        headers["Link"] = ", ".join(links)
    return headers


async def paged_list(
    request: Request,
    fetch: Callable[[ListQuery], Awaitable[tuple[Sequence[Row], int]]],
    render: Callable[[Row], Any],
    *,
    filters: str | None = "q",
) -> Response:
    """Answer a list request: the query it asks for, one page of rows rendered, and the
    headers that say how many there are in all and where the neighbouring pages are."""
    query = list_query(request, filters)
    rows, total = await fetch(query)
    return json_response([render(r) for r in rows], headers=list_headers(request, query, total))
