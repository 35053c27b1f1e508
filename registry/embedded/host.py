"""What the embedded services share: their error, ports, pid files, locks, secrets and
child processes."""

from __future__ import annotations

import abc
import contextlib
import fcntl
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
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

_LOG_TAIL_LINES = 40


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or stopped.

    The message ends with the last lines of the service's log, which is where PostgreSQL and
    Redis explain themselves.
    """

    def __init__(self, message: str, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self.log_tail = tail(log_path) if log_path is not None else ""
        if self.log_tail:
            message = f"{message}\n--- last lines of {log_path} ---\n{self.log_tail}"
        super().__init__(message)


class ContextService(abc.ABC):
    """An embedded service: ``with service:`` starts it and stops it again, whatever happens
    in between."""

    @abc.abstractmethod
    def start(self) -> str:
        """Start the service (idempotent) and return the URL clients connect to."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the service and wait until it is gone (bounded); a no-op when not started."""

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


class ChildService(ContextService):
    """A server Berth runs as its direct child out of one data root, which a lock file keeps
    to one Berth at a time. The lifecycle is written here once; a service says how to open
    itself (prepare, launch, return the URL), how to close the running child, and how to
    launch again on the port its clients were given."""

    name = "service"
    _PORT_ATTEMPTS = 3

    def __init__(self, root: Path, stem: str, *, startup_timeout: float) -> None:
        self.root = Path(root).absolute()
        self.log_path = self.root / f"{stem}.log"
        self._port_path = self.root / f"{stem}.port"
        self._lock = DirLock(self.root / f"{stem}.lock", self.name)
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._url: str | None = None

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def url(self) -> str | None:
        """What clients connect to, while the service is started."""
        return self._url

    def poll(self) -> int | None:
        """The child's exit code once it has died; None while it runs (or never ran)."""
        return None if self._proc is None else self._proc.poll()

    def start(self) -> str:
        if self._url is not None:
            return self._url
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            url = self._open()
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()
            raise
        self._url = url
        return url

    def stop(self) -> None:
        if not self._lock.held:
            return
        try:
            self._close()
        finally:
            self._url = None
            self._lock.release()

    def restart(self) -> None:
        """Start the server again after it died, on the same port and with the same URL."""
        if self._url is None or self._port is None:
            raise EmbeddedServiceError(f"{self.name} was never started")
        self._proc = None
        self._relaunch(self._port)

    def _on_a_free_port(self, launch: Callable[[int], None], pinned: int | None = None) -> None:
        """Run ``launch(port)`` on ``pinned``, or else on the previous run's port while it is
        free: another program may take the port between the check and the bind, so a launch
        that fails on a port now taken tries a fresh one."""
        for attempt in range(1, self._PORT_ATTEMPTS + 1):
            port = pinned or choose_port(self._port_path)
            try:
                launch(port)
            except EmbeddedServiceError:
                if pinned is None and attempt < self._PORT_ATTEMPTS and not port_is_free(port):
                    log.warning("port %d was taken while %s started; retrying", port, self.name)
                    continue
                raise
            self._port = port
            return

    @abc.abstractmethod
    def _open(self) -> str:
        """Prepare the data root, launch the child and return its URL (the lock is held)."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Stop the child (the lock is held; the URL is forgotten afterwards)."""

    @abc.abstractmethod
    def _relaunch(self, port: int) -> None:
        """Launch the child again on ``port`` after it died."""


def find_free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class DirLock:
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


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def load_or_create_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        value = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_secret(path)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        return value
    if stat.S_IMODE(mode) & 0o077:
        path.chmod(0o600)
    value = path.read_text().strip()
    if not value:
        raise EmbeddedServiceError(f"{path} is empty; restore the password or remove the file")
    return value


def write_file(path: Path, text: str, mode: int, owner: pwd.struct_passwd | None) -> None:
    """Replace ``path`` atomically, so a crash never leaves a half-written config."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if owner is not None:
        os.chown(tmp, owner.pw_uid, owner.pw_gid)
    tmp.replace(path)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    # SO_REUSEADDR as the servers set it: a port whose old connections linger in TIME_WAIT is
    # free for them, while one with a listener is not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def choose_port(port_file: Path) -> int:
    """The previous run's port when still free (stable URLs for tools), else a new one."""
    with contextlib.suppress(OSError, ValueError):
        port = int(port_file.read_text().strip())
        if 0 < port < 65536 and port_is_free(port):
            return port
    port = find_free_port()
    port_file.write_text(f"{port}\n")
    return port


def read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split("\n", 1)[0].strip()
        pid = int(first)
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def pid_alive(pid: int) -> bool:
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


def process_cwd(pid: int) -> Path | None:
    """Working directory of ``pid``; None if it is gone or cannot be inspected (no /proc).

    PostgreSQL and Redis both chdir into their data dir, which tells our servers apart from
    unrelated processes that reused a recorded pid.
    """
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def processes_in(directory: Path) -> Iterator[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit() and process_cwd(int(entry.name)) == directory:
            yield int(entry.name)


def wait_for_no_process_in(directory: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = list(processes_in(directory))
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


def terminate_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM a process that is not our child, wait until it is gone, SIGKILL if stuck."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_exit(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_exit(pid, 5.0)


def wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def child_argv(
    argv: list[str], death_signal: signal.Signals, account: pwd.struct_passwd | None = None
) -> list[str]:
    """``argv`` wrapped so that the kernel sends it ``death_signal`` when the process that
    started it dies, and (given ``account``) so that it runs as that user with no
    supplementary groups.

    ``setpriv`` (util-linux, part of every Debian) does both after fork and before exec, so no
    Python runs in the forked child: ``preexec_fn`` is unsafe once threads exist, and the
    supervisor restarts children from its own thread. It changes the ids before it sets the
    signal, which a change of ids would otherwise clear.
    """
    setpriv = shutil.which("setpriv", path=f"{os.environ.get('PATH', '')}:/usr/bin:/bin")
    if setpriv is None:
        raise EmbeddedServiceError("setpriv (util-linux) is needed to run embedded services")
    ids: list[str] = []
    if account is not None:
        ids = [f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups"]
    return [setpriv, *ids, f"--pdeathsig={death_signal.name}", "--", *argv]


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only).

    For processes that Python's multiprocessing starts (uvicorn's workers), which no
    ``setpriv`` wraps. The parent may already be gone by the time this runs: then exit now.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent or parent == 1:
        os.kill(os.getpid(), sig)
