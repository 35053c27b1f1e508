"""Which failures count as a dependency being unavailable (503) rather than a bug (500)."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions

from registry.services.availability import as_unavailable
from registry.services.errors import JobServiceUnavailable


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), "database"),
        (asyncpg.exceptions.CannotConnectNowError("starting"), "database"),
        (asyncpg.exceptions.QueryCanceledError("statement timeout"), "database"),
        (redis.exceptions.ConnectionError("refused"), "Redis"),
        (redis.exceptions.TimeoutError("frozen"), "Redis"),
        (TimeoutError(), "in time"),
        (ConnectionRefusedError(111, "refused"), "in time"),
        (JobServiceUnavailable("broker down"), "broker down"),
    ],
)
def test_dependency_failures_are_unavailable(error: BaseException, says: str) -> None:
    unavailable = as_unavailable(error)
    assert unavailable is not None
    assert says in unavailable.message


def test_a_failure_caused_by_an_unavailable_dependency_counts_too() -> None:
    wrapped = RuntimeError("while renewing a lock")
    wrapped.__cause__ = redis.exceptions.ConnectionError("refused")
    assert as_unavailable(wrapped) is not None


@pytest.mark.parametrize(
    "error", [ValueError("bad"), KeyError("x"), asyncpg.exceptions.UniqueViolationError("dup")]
)
def test_bugs_and_data_errors_are_not(error: BaseException) -> None:
    assert as_unavailable(error) is None
