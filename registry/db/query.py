"""A :class:`~registry.query.ListQuery` turned into parameterised SQL through a column map.

Every list owns its map: the ``q`` and ``sort`` keys it accepts and the SQL each stands for.
A key outside the map is refused (``QueryInvalid``); values only ever reach SQL as ``$n``
parameters, coerced to the column's type first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from registry.db.pool import Executor
from registry.query import ListQuery, Match, QueryInvalid, SortKey, Term


@dataclass(frozen=True, slots=True)
class Column:
    sql: str  # an expression written in Berth, never text from a request
    cast: str = "text"  # text | int | bigint | bool | timestamptz
    # Harbor matches some names as substrings even when asked for k=v (robot names).
    exact_is_contains: bool = False


ColumnMap = Mapping[str, Column]


class Clauses:
    """WHERE conditions and their parameters, for one list statement."""

    def __init__(self, columns: ColumnMap, params: Sequence[object] = ()) -> None:
        self.columns = columns
        self.conditions: list[str] = []
        self.params: list[object] = list(params)

    def param(self, value: object) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def filter(self, filters: Mapping[str, Term]) -> Clauses:
        for key, term in filters.items():
            column = self.columns.get(key)
            if column is None:
                raise QueryInvalid(f"unsupported query key {key!r}")
            self._add_term(column, term)
        return self

    def _add_term(self, column: Column, term: Term) -> None:
        expr, cast = column.sql, column.cast
        if term.match is Match.CONTAINS or (term.match is Match.EXACT and column.exact_is_contains):
            self.add(f"{expr}::text ILIKE '%' || {self.param(term.values[0])} || '%'")
        elif term.match is Match.EXACT:
            self.add(f"{expr} = {self.param(coerce(term.values[0], cast))}::{cast}")
        elif term.match is Match.ANY_OF:
            values = [coerce(v, cast) for v in term.values]
            self.add(f"{expr} = ANY({self.param(values)}::{cast}[])")
        else:
            low, high = term.values
            if low:
                self.add(f"{expr} >= {self.param(coerce(low, cast))}::{cast}")
            if high:
                self.add(f"{expr} <= {self.param(coerce(high, cast))}::{cast}")

    def where(self) -> str:
        return ("WHERE " + " AND ".join(self.conditions)) if self.conditions else ""

    def order_by(self, sort: Sequence[SortKey], default: str) -> str:
        """The requested keys first, then ``default`` so pages are stable."""
        parts = []
        for key in sort:
            column = self.columns.get(key.key)
            if column is None:
                raise QueryInvalid(f"unsupported sort key {key.key!r}")
            parts.append(f"{column.sql} {'DESC' if key.descending else 'ASC'}")
        return "ORDER BY " + ", ".join([*parts, default])


def coerce(value: str, cast: str) -> object:
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
        raise QueryInvalid(f"invalid value {value!r}") from None
    return value


async def fetch_listed(
    db: Executor,
    *,
    select: str,
    source: str,
    clauses: Clauses,
    query: ListQuery,
    default_order: str,
) -> tuple[list[asyncpg.Record], int]:
    """One page of ``SELECT select source WHERE … ORDER BY …`` and the count of all rows.

    ``select`` and ``source`` (the FROM part, joins included) are SQL written in Berth; the
    conditions and their values come from ``clauses``.
    """
    where = clauses.where()
    order = clauses.order_by(query.sort, default_order)
    n = len(clauses.params)
    rows = await db.fetch(
        f"SELECT {select} {source} {where} {order} LIMIT ${n + 1} OFFSET ${n + 2}",
        *clauses.params,
        query.page_size,
        query.offset,
    )
    total: int = await db.fetchval(
        f"SELECT count(*) {source} {where}",
        *clauses.params,
    )
    return rows, total


async def list_rows(
    db: Executor,
    *,
    select: str,
    source: str,
    columns: ColumnMap,
    query: ListQuery,
    default_order: str,
    scope: Sequence[tuple[str, object]] = (),
) -> tuple[list[asyncpg.Record], int]:
    """The usual list: ``scope`` conditions (each ``"col = {}"`` with its value) and the
    query's filters, sorted and paged."""
    clauses = Clauses(columns)
    for condition, value in scope:
        clauses.add(condition.format(clauses.param(value)))
    clauses.filter(query.filters)
    return await fetch_listed(
        db, select=select, source=source, clauses=clauses, query=query, default_order=default_order
    )
