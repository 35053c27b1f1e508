"""Shared fixtures: real PostgreSQL and Redis for the whole run.

By default the embedded services (the same ones `berth serve` starts) run under a temporary
directory; BERTH_TEST_DATABASE_URL / BERTH_TEST_REDIS_URL point the suite at existing servers
instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def services_root() -> Iterator[Path]:
    # Not under pytest's tmp_path: pytest resets that tree to mode 0700 whenever a session
    # starts, which would lock out the unprivileged user the embedded PostgreSQL runs as.
    root = Path(tempfile.mkdtemp(prefix="berth-test-services-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


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
