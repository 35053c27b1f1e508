"""Harbor's list conventions: ``page``/``page_size``, ``q``, ``sort``, ``X-Total-Count``, ``Link``.

``q`` is a comma-separated list of ``key=value`` terms: ``k=v`` exact, ``k=~v`` fuzzy
(contains), ``k=[a~b]`` range (either end may be empty), ``k={a b c}`` any of. ``sort`` is a
comma-separated list of keys, ``-key`` for descending. Keys are translated to SQL through a
per-endpoint table, so nothing from the query string reaches SQL except as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request

from registry.api.v2_0.errors import BadRequest
from registry.query import ListQuery, parse_filters, parse_sort

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


@dataclass(frozen=True, slots=True)
class Term:
    kind: str  # exact | fuzzy | range | any
    values: tuple[str, ...]


def _split_terms(text: str) -> list[str]:
    """Split on commas outside of {…} and […]."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "{[(":
            depth += 1
        elif char in "}])":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        terms.append("".join(current))
    return [t for t in (t.strip() for t in terms) if t]


def parse_query(text: str | None) -> dict[str, Term]:
    found: dict[str, Term] = {}
    for term in _split_terms(text or ""):
        key, sep, value = term.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadRequest(f"invalid query term {term!r}")
        if value.startswith("~"):
            found[key] = Term("fuzzy", (value[1:],))
        elif value.startswith("[") and value.endswith("]"):
            low, sep2, high = value[1:-1].partition("~")
            if not sep2:
                raise BadRequest(f"invalid range in {term!r}")
            found[key] = Term("range", (low.strip(), high.strip()))
        elif value[:1] + value[-1:] in ("{}", "()"):
            found[key] = Term("any", tuple(v for v in value[1:-1].split() if v))
        else:
            found[key] = Term("exact", (value,))
    return found


@dataclass
class SqlFilter:
    """WHERE and ORDER BY clauses for one list endpoint, built from ``q`` and ``sort``."""

    columns: dict[str, tuple[str, str]]  # key → (SQL expression, cast: text|int|bool|timestamptz)
    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def apply_query(self, query: dict[str, Term]) -> None:
        for key, term in query.items():
            if key not in self.columns:
                raise BadRequest(f"unsupported query key {key!r}")
            expr, cast = self.columns[key]
            if term.kind == "fuzzy":
                self.add(f"{expr}::text ILIKE '%' || {self.param(term.values[0])} || '%'")
            elif term.kind == "exact":
                self.add(f"{expr} = {self.param(_coerce(term.values[0], cast))}::{cast}")
            elif term.kind == "any":
                values = [_coerce(v, cast) for v in term.values]
                self.add(f"{expr} = ANY({self.param(values)}::{cast}[])")
            else:
                low, high = term.values
                if low:
                    self.add(f"{expr} >= {self.param(_coerce(low, cast))}::{cast}")
                if high:
                    self.add(f"{expr} <= {self.param(_coerce(high, cast))}::{cast}")

    def where(self) -> str:
        return ("WHERE " + " AND ".join(self.conditions)) if self.conditions else ""

    def order_by(self, sort: str | None, default: str) -> str:
        if not sort:
            return f"ORDER BY {default}"
        parts = []
        for item in sort.split(","):
            item = item.strip()
            descending = item.startswith("-")
            key = item.lstrip("-")
            if key not in self.columns:
                raise BadRequest(f"unsupported sort key {key!r}")
            parts.append(f"{self.columns[key][0]} {'DESC' if descending else 'ASC'}")
        return "ORDER BY " + ", ".join([*parts, default])


def _coerce(value: str, cast: str) -> Any:
    from datetime import datetime

    try:
        if cast in ("int", "bigint"):
            number = int(value) if value.isascii() else None
            if number is None or not -(2**63) <= number < 2**63:
                raise ValueError(value)
            return number
        if cast == "bool":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if cast == "timestamptz":
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"invalid value {value!r}") from None
    return value


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
