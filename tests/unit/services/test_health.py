"""What /health reports: every part checked at once, each with its own verdict and error, the
whole healthy only when every part is, and a part that does not answer bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from registry.services import health
from registry.services.context import Backends


@dataclass
class Database:
    failure: Exception | None = None

    async def fetchval(self, query: str) -> int:
        if self.failure is not None:
            raise self.failure
        return 1


@dataclass
class Redis:
    workers: list[str] = field(default_factory=lambda: ["berth:jobservice:worker:w1"])
    stalls: bool = False
    patterns: list[str] = field(default_factory=list)

    async def ping(self) -> bool:
        if self.stalls:
            await asyncio.Event().wait()
        return True

    async def scan_iter(self, match: str, count: int) -> AsyncIterator[str]:
        self.patterns.append(match)
        for key in self.workers:
            yield key


@dataclass
class Storage:
    async def list(self, path: str) -> list[str]:
        return []


def backends(db: Database | None = None, redis: Redis | None = None) -> Backends:
    @dataclass
    class Parts:
        db: Database
        redis: Redis
        storage: Storage

    return cast(Backends, Parts(db or Database(), redis or Redis(), Storage()))


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["name"]: (c["status"], c.get("error")) for c in report["components"]}


async def test_all_parts_answering_is_healthy() -> None:
    redis = Redis()
    report = await health.system_health(backends(redis=redis))
    assert report["status"] == "healthy"
    assert [c["name"] for c in report["components"]] == [
        "core",
        "database",
        "redis",
        "jobservice",
        "registry",
    ]
    assert all(status == "healthy" for status, _ in verdicts(report).values())
    assert redis.patterns == ["berth:jobservice:worker:*"]


async def test_a_failing_part_is_named_with_its_error() -> None:
    report = await health.system_health(
        backends(db=Database(ConnectionRefusedError("connection refused")))
    )
    assert report["status"] == "unhealthy"
    assert verdicts(report)["database"] == (
        "unhealthy",
        "ConnectionRefusedError: connection refused",
    )
    assert verdicts(report)["redis"] == ("healthy", None)


async def test_no_live_worker_makes_the_job_service_unhealthy() -> None:
    report = await health.system_health(backends(redis=Redis(workers=[])))
    status, error = verdicts(report)["jobservice"]
    assert status == "unhealthy"
    assert error == "RuntimeError: no job worker has reported in the last 30s"


async def test_a_part_that_does_not_answer_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.05)
    async with asyncio.timeout(2):
        report = await health.system_health(backends(redis=Redis(stalls=True)))
    status, error = verdicts(report)["redis"]
    assert status == "unhealthy"
    assert error is not None
    assert error.startswith("no answer within")
    assert verdicts(report)["database"] == ("healthy", None)
