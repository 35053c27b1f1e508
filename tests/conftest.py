"""Shared fixtures: real PostgreSQL, Redis and an S3 API (moto's server) for the whole run.

By default the embedded services (the same ones `berth serve` starts) run under a temporary
directory; BERTH_TEST_DATABASE_URL / BERTH_TEST_REDIS_URL point the suite at existing servers
instead.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from tests.integration.ldap_server import LdapServer, slapd_available

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_MOTO_START_SECONDS = 30.0


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + _MOTO_START_SECONDS
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto server did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def s3_admin(s3_endpoint: str) -> S3Client:
    """A plain boto3 client for setting up and inspecting buckets behind the driver's back."""
    return boto3.session.Session().client(
        "s3",
        region_name="us-east-1",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def ldap_server() -> Iterator[LdapServer]:
    """A real slapd with a generated tree (users, groups, a nested group, memberOf)."""
    if not slapd_available():
        pytest.fail("slapd is not installed: scripts/test installs Debian's slapd package")
    server = LdapServer().start()
    try:
        yield server
    finally:
        server.stop()
