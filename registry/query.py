"""A list query as a plain value: filters, sort keys, a page and the projects in scope, known to
no protocol or table.

The management API reads one from Harbor's ``q``/``sort``/``page``/``page_size``; each
``db/`` module turns it into SQL through the column map it owns (``registry.db.query``), so
which keys a list accepts is decided next to the table, and nothing from a request reaches
SQL except as a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class QueryInvalid(Exception):
    """A list query names a key the list does not know, or holds a value of the wrong type."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Match(Enum):
    EXACT = "exact"  # k=v
    CONTAINS = "contains"  # k=~v
    RANGE = "range"  # k=[low~high], either end may be empty
    ANY_OF = "any"  # k={a b c}


@dataclass(frozen=True, slots=True)
class Term:
    match: Match
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    key: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class ListQuery:
    filters: Mapping[str, Term] = field(default_factory=dict)
    sort: tuple[SortKey, ...] = ()
    page: int = 1
    page_size: int = 10

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def with_filter(self, key: str, term: Term) -> ListQuery:
        return ListQuery({**self.filters, key: term}, self.sort, self.page, self.page_size)

    def without(self, *keys: str) -> ListQuery:
        kept = {k: t for k, t in self.filters.items() if k not in keys}
        return ListQuery(kept, self.sort, self.page, self.page_size)

    def without_sort(self) -> ListQuery:
        """For lists that keep one fixed order, as Harbor's do (users, robots, groups)."""
        return ListQuery(self.filters, (), self.page, self.page_size)

    def single(self, key: str) -> str | None:
        """The one value of filter ``key``; None when absent."""
        term = self.filters.get(key)
        if term is None:
            return None
        if len(term.values) != 1:
            raise QueryInvalid(f"{key} takes one value")
        return term.values[0]


@dataclass(frozen=True, slots=True)
class ProjectScope:
    """The projects a list may show, as :func:`registry.rbac.project_scope` decides them:
    every project, or the public ones, those the user holds one of ``member_roles`` (role ids)
    in (itself or through a group), and those a robot's permissions name."""

    everything: bool = False
    public: bool = False
    member_roles: frozenset[int] = frozenset()
    user_id: int | None = None
    group_ids: tuple[int, ...] = ()
    robot_id: int | None = None


def _split_terms(text: str) -> list[str]:
    """Split on commas outside of {…}, […] and (…)."""
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


def parse_filters(text: str | None) -> dict[str, Term]:
    """Harbor's ``q``: comma-separated ``k=v``, ``k=~v``, ``k=[a~b]``, ``k={a b c}``."""
    found: dict[str, Term] = {}
    for term in _split_terms(text or ""):
        key, sep, value = term.partition("=")
        key = key.strip()
        if not sep or not key:
            raise QueryInvalid(f"invalid query term {term!r}")
        if value.startswith("~"):
            found[key] = Term(Match.CONTAINS, (value[1:],))
        elif value.startswith("[") and value.endswith("]"):
            low, sep2, high = value[1:-1].partition("~")
            if not sep2:
                raise QueryInvalid(f"invalid range in {term!r}")
            found[key] = Term(Match.RANGE, (low.strip(), high.strip()))
        elif value[:1] + value[-1:] in ("{}", "()"):
            found[key] = Term(Match.ANY_OF, tuple(v for v in value[1:-1].split() if v))
        else:
            found[key] = Term(Match.EXACT, (value,))
    return found


def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    """Harbor's ``sort``: comma-separated keys, ``-key`` for descending."""
    if not text:
        return ()
    items = (item.strip() for item in text.split(","))
    return tuple(SortKey(item.lstrip("-"), item.startswith("-")) for item in items)
