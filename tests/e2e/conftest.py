"""Fixtures for the end-to-end suite.

``BERTH_E2E_TARGET`` picks what the tests talk to:

* ``berth`` (default): ``python -m registry.cli serve`` from this checkout, started once per
  session with a temporary data dir (embedded PostgreSQL and Redis);
* ``distribution``: Debian's CNCF Distribution 2.8, to check the client invocations
  themselves. Tests that need a Berth feature Distribution lacks assert Distribution's
  documented behaviour instead (see ``Registry`` in ``_servers.py``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._helm import Helm
from tests.e2e._servers import (
    Registry,
    RegistryPair,
    ServerError,
    ServerProcess,
    start_berth,
    start_distribution,
)
from tests.e2e._tools import Toolbox

TARGETS = ("berth", "distribution")
USERNAME = "admin"


_LOG_OFFSETS = pytest.StashKey[list[tuple[ServerProcess, int]]]()


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    funcargs = getattr(item, "funcargs", {})
    servers: list[ServerProcess] = []
    for value in funcargs.values():
        if isinstance(value, Registry):
            servers.extend(value.servers)
        elif isinstance(value, RegistryPair):
            servers.extend([*value.first.servers, *value.second.servers])
    return servers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    item.stash[_LOG_OFFSETS] = [(server, server.log_offset()) for server in _servers_of(item)]
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report carries what the servers logged while it ran."""
    report = yield
    if report.when == "call" and report.failed:
        for server, offset in item.stash.get(_LOG_OFFSETS, []):
            report.sections.append((f"{server.name} log during the test", server.log_since(offset)))
    return report


def _target() -> str:
    target = os.environ.get("BERTH_E2E_TARGET", "berth").strip().lower()
    if target not in TARGETS:
        raise pytest.UsageError(f"BERTH_E2E_TARGET must be one of {TARGETS}, not {target!r}")
    return target


@pytest.fixture(scope="session")
def target() -> str:
    return _target()


def _new_password() -> str:
    return "e2e-" + secrets.token_urlsafe(12)


def _stop_all(servers: list[ServerProcess]) -> list[str]:
    """Stop servers in reverse start order; describe each one that did not stop cleanly."""
    problems = []
    for server in reversed(servers):
        result = server.stop()
        if not result.clean:
            problems.append(f"{server.name}: {result.explain()}\n{server.describe()}")
    return problems


def _start(
    start: Callable[..., tuple[ServerProcess, str]], *args: Any, **kwargs: Any
) -> tuple[ServerProcess, str]:
    """Start a server; a server that never came up fails the fixture with its log."""
    try:
        return start(*args, **kwargs)
    except ServerError as exc:
        failure = str(exc)
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def registry(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry under test, up for the whole session; stopped with SIGTERM at the end."""
    workdir = tmp_path_factory.mktemp(target)
    password = _new_password()
    if target == "berth":
        state = workdir / "data"
        server, host = _start(start_berth, state, password=password)
    else:
        state = workdir / "storage"
        server, host = _start(start_distribution, workdir, username=USERNAME, password=password)
    yield Registry(target, host, USERNAME, password, [server])
    problems = _stop_all([server])
    # The memory test leaves a 1 GiB blob behind; pytest keeps the last runs' tmp dirs.
    shutil.rmtree(state, ignore_errors=True)
    assert not problems, "server did not shut down cleanly:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def berth_pair(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryPair]:
    """Two registry processes behind which any request may land on either.

    For Berth: an EmbeddedPostgres and EmbeddedRedis started here, and two ``berth serve``
    processes given them via BERTH_DATABASE_URL / BERTH_REDIS_URL plus the same storage root
    and admin password. For Distribution: two instances sharing storage and HTTP secret.
    """
    workdir = tmp_path_factory.mktemp(f"{target}-pair")
    password = _new_password()
    storage = workdir / "storage"
    storage.mkdir()
    servers: list[ServerProcess] = []
    hosts: list[str] = []
    cleanups: list[Callable[[], object]] = []
    try:
        if target == "berth":
            from registry.embedded import EmbeddedPostgres, EmbeddedRedis

            # Outside pytest's tmp tree, which a starting session resets to mode 0700 (see
            # _jobs.state_dir): PostgreSQL runs as its own account.
            services = Path(tempfile.mkdtemp(prefix="berth-pair-services-"))
            cleanups.append(lambda: shutil.rmtree(services, ignore_errors=True))
            postgres = EmbeddedPostgres(services / "postgres")
            dsn = postgres.start()
            cleanups.append(postgres.stop)
            redis = EmbeddedRedis(services / "redis")
            redis_url = redis.start()
            cleanups.append(redis.stop)
            shared = {
                "BERTH_DATABASE_URL": dsn,
                "BERTH_REDIS_URL": redis_url,
                "BERTH_STORAGE__FILESYSTEM__ROOT": str(storage),
                # Replicas of one database share its secret key (the first one makes it).
                "BERTH_SECRET_KEY_PATH": str(workdir / "secret.key"),
            }
            # One after the other: the first applies migrations, the second finds them done.
            for name in ("a", "b"):
                server, host = _start(
                    start_berth,
                    workdir / name,
                    password=password,
                    extra_env=shared,
                    name=f"berth-{name}",
                )
                servers.append(server)
                hosts.append(host)
        else:
            http_secret = secrets.token_hex(16)
            for name in ("a", "b"):
                server, host = _start(
                    start_distribution,
                    workdir / name,
                    username=USERNAME,
                    password=password,
                    storage_root=storage,
                    http_secret=http_secret,
                    name=f"distribution-{name}",
                )
                servers.append(server)
                hosts.append(host)
        yield RegistryPair(
            Registry(target, hosts[0], USERNAME, password, [servers[0]]),
            Registry(target, hosts[1], USERNAME, password, [servers[1]]),
        )
    finally:
        problems = _stop_all(servers)
        for cleanup in reversed(cleanups):
            cleanup()
    assert not problems, "pair did not shut down cleanly:\n" + "\n".join(problems)


@pytest.fixture
def toolbox(tmp_path: Path) -> Iterator[Toolbox]:
    box = Toolbox(tmp_path / "tools")
    yield box
    box.close()


# ---------------------------------------------------------------------------- nginx in front


def _nginx_front_of(pair: RegistryPair, host: str, nginx: ServerProcess) -> Registry:
    """The pair's registry as reached through nginx. Its only server is nginx: a test that
    also asks for ``berth_pair`` gets the backends' logs in its failure report."""
    first = pair.first
    return Registry(first.target, host, first.username, first.password, [nginx])


@pytest.fixture(scope="module")
def nginx_front(berth_pair: RegistryPair) -> Iterator[Registry]:
    """Debian's nginx running deploy/nginx.conf (ports, backends and directories
    substituted) in front of both servers of ``berth_pair``; clients use its host."""
    from tests.e2e._nginx import nginx_workdir, start_nginx_front

    root = nginx_workdir()
    try:
        upstreams = [berth_pair.first.host, berth_pair.second.host]
        nginx, host = _start(start_nginx_front, root, upstreams)
        yield _nginx_front_of(berth_pair, host, nginx)
        problems = _stop_all([nginx])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, "nginx did not shut down cleanly:\n" + "\n".join(problems)


@pytest.fixture
def nginx_tls_front(berth_pair: RegistryPair) -> Iterator[tuple[Registry, str]]:
    """deploy/nginx.conf with its commented TLS example enabled as the file describes, in
    front of ``berth_pair`` → (Registry on the HTTPS host, host of the port-80 redirect).

    The Registry's ``url`` and ``client()`` speak plain HTTP: use ``https://{host}``.
    """
    from tests.e2e._nginx import nginx_workdir, start_nginx_tls_front

    root = nginx_workdir()
    try:
        upstreams = [berth_pair.first.host, berth_pair.second.host]
        try:
            nginx, host, redirect_host = start_nginx_tls_front(root, upstreams)
        except ServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield _nginx_front_of(berth_pair, host, nginx), redirect_host
        problems = _stop_all([nginx])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert not problems, "nginx did not shut down cleanly:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------- helm


@pytest.fixture(params=[3, 4], ids=["helm3", "helm4"])
def helm(request: pytest.FixtureRequest, tmp_path: Path, target: str) -> Iterator[Helm]:
    """The real helm 3 and helm 4 clients, each with a home of its own (fetched into
    .cache/helm when missing). Charts are a Berth feature Distribution does not have."""
    if target != "berth":
        pytest.skip("chart repositories and chart additions are Berth's, not Distribution's")
    helm = Helm(request.param, tmp_path / "helm")
    yield helm
    # BERTH_HELM_LOG=<file> collects every helm command the tests ran and its first line.
    if log := os.environ.get("BERTH_HELM_LOG"):
        with open(log, "a") as out:
            out.write(f"# {request.node.name}\n" + "".join(f"{line}\n" for line in helm.log))
