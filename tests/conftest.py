"""Shared fixtures: real PostgreSQL and Redis for the whole run.

By default the embedded services (the same ones `berth serve` starts) run under a temporary
directory; BERTH_TEST_DATABASE_URL / BERTH_TEST_REDIS_URL point the suite at existing servers
instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def services_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def database_url(services_root: Path) -> Iterator[str]:
    external = os.environ.get("BERTH_TEST_DATABASE_URL")
    if external:
        yield external
        return
    from registry.embedded import EmbeddedPostgres

    postgres = EmbeddedPostgres(services_root)
    try:
        yield postgres.start()
    finally:
        postgres.stop()


@pytest.fixture(scope="session")
def redis_url(services_root: Path) -> Iterator[str]:
    external = os.environ.get("BERTH_TEST_REDIS_URL")
    if external:
        yield external
        return
    from registry.embedded import EmbeddedRedis

    redis = EmbeddedRedis(services_root)
    try:
        yield redis.start()
    finally:
        redis.stop()
