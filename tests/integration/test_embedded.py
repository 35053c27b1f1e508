"""The embedded PostgreSQL and Redis, run for real in a temporary data dir."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from registry.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedServiceError,
    find_free_port,
)
from registry.runtime import connect_redis

REPO_ROOT = Path(__file__).resolve().parents[2]

# Starts both services and exits without stopping them, as a Berth killed by SIGKILL would.
ABANDON_SCRIPT = """
import os, sys
from pathlib import Path
from registry.embedded import EmbeddedPostgres, EmbeddedRedis
root = Path(sys.argv[1])
pg, rd = EmbeddedPostgres(root), EmbeddedRedis(root)
pg.start()
rd.start()
print(pg.pid, rd.pid, flush=True)
os._exit(0)
"""


@pytest.fixture
def root() -> Iterator[Path]:
    # Not tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 whenever a session starts
    # (ours or a concurrent one), cutting the PostgreSQL account off from its data dir.
    parent = Path(tempfile.mkdtemp(prefix="berth-embedded-"))
    data = parent / "data"
    yield data
    # After a failed assertion the servers may still run; they must not outlive the test.
    for pid_file in (data / "postgres" / "postmaster.pid", data / "redis.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _process_gone(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(parent, ignore_errors=True)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # The postmaster is not our child; until init reaps it, a dead one lingers as a zombie.
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rpartition(")")[2].split()[0] == "Z"


async def _wait_gone(pid: int) -> None:
    # Polled: exit of a process that is not our child cannot be awaited.
    for _ in range(200):
        if _process_gone(pid):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"process {pid} still running")


async def _start(pg: EmbeddedPostgres, rd: EmbeddedRedis) -> tuple[str, str]:
    # start() and stop() block for up to seconds; keep them off the event loop.
    return await asyncio.to_thread(pg.start), await asyncio.to_thread(rd.start)


async def _stop(pg: EmbeddedPostgres, rd: EmbeddedRedis) -> None:
    await asyncio.to_thread(pg.stop)
    await asyncio.to_thread(rd.stop)


async def _abandon_services(root: Path) -> tuple[int, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ABANDON_SCRIPT,
        str(root),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    pg_pid, redis_pid = (int(x) for x in out.split())
    return pg_pid, redis_pid


async def test_services_persist_across_restarts_and_stop_cleanly(root: Path) -> None:
    pg, rd = EmbeddedPostgres(root), EmbeddedRedis(root)
    dsn, url = await _start(pg, rd)
    try:
        assert dsn.startswith("postgresql://berth:")
        assert url.startswith("redis://:")
        for secret in ("postgres.password", "redis.password", "redis.conf"):
            assert stat.S_IMODE((root / secret).stat().st_mode) == 0o600

        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert await conn.fetchval("SELECT current_database()") == "berth"
            await conn.execute("CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)")
            await conn.execute("INSERT INTO note VALUES (1, 'kept')")
        finally:
            await conn.close()

        client = aioredis.from_url(url)
        try:
            await client.set("greeting", "hello")
            assert await client.get("greeting") == b"hello"
        finally:
            await client.aclose()

        # Both demand the generated passwords.
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                dsn.replace((root / "postgres.password").read_text().strip(), "x")
            )
        reader, writer = await asyncio.open_connection("127.0.0.1", rd.port)
        try:
            writer.write(b"GET greeting\r\n")
            assert (await reader.readline()).startswith(b"-NOAUTH")
        finally:
            writer.close()
            await writer.wait_closed()

        pg_pid, redis_pid = pg.pid, rd.pid
        pg_port, redis_port = pg.port, rd.port
        assert pg_pid is not None
        assert redis_pid is not None
        assert pg_port is not None
        assert redis_port is not None
    finally:
        await _stop(pg, rd)

    await _wait_gone(pg_pid)
    await _wait_gone(redis_pid)
    assert not _port_open(pg_port)
    assert not _port_open(redis_port)
    assert not (root / "postgres" / "postmaster.pid").exists()

    # Fresh objects on the same dir: no initdb, same ports (they are free again), same data.
    pg, rd = EmbeddedPostgres(root), EmbeddedRedis(root)
    dsn2, url2 = await _start(pg, rd)
    try:
        assert (dsn2, url2) == (dsn, url)
        conn = await asyncpg.connect(dsn2)
        try:
            assert await conn.fetchval("SELECT body FROM note WHERE id = 1") == "kept"
        finally:
            await conn.close()
        client = aioredis.from_url(url2)
        try:
            assert await client.get("greeting") == b"hello"
        finally:
            await client.aclose()
        pg_pid, redis_pid = pg.pid, rd.pid
        assert pg_pid is not None
        assert redis_pid is not None
    finally:
        await _stop(pg, rd)

    await _wait_gone(pg_pid)
    await _wait_gone(redis_pid)
    assert not _port_open(pg_port)
    assert not _port_open(redis_port)
    # stop() is idempotent.
    await _stop(pg, rd)


async def test_recovers_from_killed_runs_and_refuses_a_second_owner(root: Path) -> None:
    # 1. Berth died, its servers kept running: they are stopped and started afresh.
    old_pg, old_redis = await _abandon_services(root)
    assert not _process_gone(old_pg)
    assert not _process_gone(old_redis)
    pg, rd = EmbeddedPostgres(root), EmbeddedRedis(root)
    await _start(pg, rd)
    try:
        assert _process_gone(old_pg)
        assert _process_gone(old_redis)
        assert pg.pid not in (None, old_pg)
        assert rd.pid not in (None, old_redis)

        # While they run, another process (or object) cannot take the same dir.
        with pytest.raises(EmbeddedServiceError, match="already run by another Berth"):
            EmbeddedPostgres(root).start()
        with pytest.raises(EmbeddedServiceError, match="already run by another Berth"):
            EmbeddedRedis(root).start()
    finally:
        await _stop(pg, rd)

    # 2. The servers themselves were killed: stale pid files and crash recovery.
    old_pg, old_redis = await _abandon_services(root)
    os.kill(old_pg, signal.SIGKILL)
    os.kill(old_redis, signal.SIGKILL)
    await _wait_gone(old_pg)
    await _wait_gone(old_redis)
    assert (root / "postgres" / "postmaster.pid").exists()
    dsn, url = await _start(pg, rd)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        client = aioredis.from_url(url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()
    finally:
        await _stop(pg, rd)

    # 3. postmaster.pid names a live process that is not PostgreSQL (a reused pid), which
    # PostgreSQL alone would take for a running server.
    pid_file = root / "postgres" / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{root / 'postgres'}\n")
    try:
        await asyncio.to_thread(pg.start)
    finally:
        await asyncio.to_thread(pg.stop)


async def test_start_failure_reports_the_log(root: Path) -> None:
    pg = EmbeddedPostgres(root)
    await asyncio.to_thread(pg.start)
    await asyncio.to_thread(pg.stop)

    auto_conf = root / "postgres" / "postgresql.auto.conf"
    original = auto_conf.read_text()
    auto_conf.write_text(original + "no_such_setting = 1\n")
    with pytest.raises(EmbeddedServiceError, match="no_such_setting") as failure:
        await asyncio.to_thread(pg.start)
    assert failure.value.log_path == root / "postgres.log"
    # The failed start released the dir; once fixed, it starts.
    auto_conf.write_text(original)
    await asyncio.to_thread(pg.start)
    await asyncio.to_thread(pg.stop)


def test_find_free_port_is_bindable() -> None:
    port = find_free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def _reap(redis: EmbeddedRedis) -> None:
    """Wait for the killed server's exit the way berth serve's supervisor sees it: by polling."""
    while redis.poll() is None:
        time.sleep(0.01)


async def test_a_client_idle_while_redis_restarted_works_at_its_next_command(root: Path) -> None:
    """What a ``berth serve`` process that served nothing during a Redis outage sees: its
    pooled connections were dropped by the old Redis, yet the next request's command works."""
    redis = EmbeddedRedis(root)
    url = await asyncio.to_thread(redis.start)
    client = connect_redis(url, timeout_seconds=3.0)
    try:
        # Several pooled connections, as a process that served requests at once holds.
        assert await asyncio.gather(*(client.ping() for _ in range(4))) == [True] * 4
        killed = redis.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await asyncio.to_thread(_reap, redis)

        began = asyncio.get_running_loop().time()
        with pytest.raises(aioredis.ConnectionError):
            await client.ping()
        # Down is told at once (the caller answers 503), not after retries.
        assert asyncio.get_running_loop().time() - began < 1.0

        # What berth serve's supervisor does: the same port and password again.
        await asyncio.to_thread(redis.restart)
        assert redis.url == url
        try:
            # At once, so that every pooled connection is drawn, not just the one reused.
            assert await asyncio.gather(*(client.set(f"k{i}", i) for i in range(8))) == [True] * 8
            assert await client.get("k7") == b"7"
        finally:
            await asyncio.to_thread(redis.stop)
    finally:
        await client.aclose()
