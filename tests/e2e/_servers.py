"""Starting, watching and stopping the registry servers the end-to-end tests talk to.

Two kinds of server can stand behind the ``registry`` fixture:

* ``berth``: ``python -m registry.cli serve`` from this checkout (the default target);
* ``distribution``: CNCF Distribution 2.8 (Debian's ``docker-registry``), used to check that
  the client invocations themselves are right, independently of Berth.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.e2e._http import RegistryAuth

REPO_ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION_BINARY = "/usr/bin/docker-registry"
STOP_TIMEOUT = 20.0
BERTH_READY_TIMEOUT = 180.0
DISTRIBUTION_READY_TIMEOUT = 30.0
LOG_TAIL_CHARS = 20_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One server subprocess with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log_path: Path,
        cwd: Path,
        owned_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        # Processes whose command line names this path belong to this server even when they
        # were daemonised away from its process tree (pg_ctl starts postgres that way).
        self.owned_path = owned_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_text(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "<no log file>"
        if len(text) > LOG_TAIL_CHARS:
            return "…" + text[-LOG_TAIL_CHARS:]
        return text

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        """What the server logged after ``offset`` (the tail, if that is long)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        if len(text) > LOG_TAIL_CHARS:
            return "…" + text[-LOG_TAIL_CHARS:]
        return text

    def describe(self) -> str:
        return f"{self.name} ({' '.join(self.argv)})\n----- server log -----\n{self.log_text()}"

    def wait_ready(self, base_url: str, timeout: float) -> None:
        """Block until GET /v2/ answers 200 or 401; fail with the server log otherwise."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise ServerError(f"{self.name} exited with {code} before it was ready", self)
            try:
                status = httpx.get(f"{base_url}/v2/", timeout=2.0).status_code
            except httpx.HTTPError as exc:
                last = repr(exc)
            else:
                if status in (200, 401):
                    return
                last = f"GET /v2/ answered {status}"
            time.sleep(0.25)
        raise ServerError(f"{self.name} not ready after {timeout:.0f} s ({last})", self)

    def process_tree(self) -> list[psutil.Process]:
        """The server process, its descendants, and processes that name its owned path."""
        found: dict[int, psutil.Process] = {}
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(self.proc.pid)
                found[root.pid] = root
                for child in root.children(recursive=True):
                    found[child.pid] = child
        if self.owned_path is not None:
            marker = str(self.owned_path)
            for candidate in psutil.process_iter(["cmdline"]):
                cmdline = candidate.info.get("cmdline") or []
                if any(marker in part for part in cmdline):
                    found.setdefault(candidate.pid, candidate)
        return list(found.values())

    def stop(self, timeout: float = STOP_TIMEOUT) -> StopResult:
        """SIGTERM the server, wait for it, and report how it went.

        Anything still running afterwards (a hung server, an orphaned child) is killed by
        pid so one run never leaks processes into the next; the result says so.
        """
        assert self.proc is not None
        if self.proc.poll() is not None:
            return StopResult(self.proc.returncode, 0.0, timed_out=False, leftovers=[])
        tree = [p for p in self.process_tree() if p.pid != self.proc.pid]
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.proc.kill()
            self.proc.wait(timeout=10)
        elapsed = time.monotonic() - started
        # Children get a short grace period to finish their own shutdown.
        _gone, alive = psutil.wait_procs(tree, timeout=5)
        leftovers = []
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                leftovers.append(f"{proc.pid} {' '.join(proc.cmdline())}")
                proc.kill()
        return StopResult(self.proc.returncode, elapsed, timed_out=timed_out, leftovers=leftovers)


@dataclass
class StopResult:
    returncode: int
    seconds: float
    timed_out: bool
    leftovers: list[str]

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.leftovers

    def explain(self) -> str:
        parts = [f"exit code {self.returncode} after {self.seconds:.1f} s"]
        if self.timed_out:
            parts.append(f"did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM (killed)")
        if self.leftovers:
            parts.append("processes left running: " + "; ".join(self.leftovers))
        return ", ".join(parts)


class ServerError(RuntimeError):
    def __init__(self, message: str, server: ServerProcess) -> None:
        super().__init__(f"{message}\n{server.describe()}")
        self.server = server


@dataclass
class Registry:
    """What a test needs to know about the registry it talks to."""

    target: str
    host: str
    username: str
    password: str
    servers: list[ServerProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def is_berth(self) -> bool:
        return self.target == "berth"

    @property
    def supports_referrers(self) -> bool:
        """The OCI 1.1 referrers API; Distribution 2.8 predates it."""
        return self.is_berth

    @property
    def anonymous_pull(self) -> bool:
        """Whether the public ``library`` project may be pulled without credentials.

        Berth's ``library`` project is public. Distribution's htpasswd auth is all or
        nothing, so there an anonymous pull must be refused.
        """
        return self.is_berth

    @property
    def creds(self) -> str:
        return f"{self.username}:{self.password}"

    def client(self, *, anonymous: bool = False, timeout: float = 60.0) -> httpx.Client:
        auth = RegistryAuth() if anonymous else RegistryAuth(self.username, self.password)
        return httpx.Client(base_url=self.url, auth=auth, timeout=timeout, follow_redirects=True)

    def log_text(self) -> str:
        return "\n".join(server.describe() for server in self.servers)


@dataclass
class RegistryPair:
    """Two servers sharing one database, one Redis and one storage root."""

    first: Registry
    second: Registry


# ---------------------------------------------------------------------------- Distribution


def _bcrypt(password: str) -> str:
    """A bcrypt hash from the system's libcrypt (Distribution's htpasswd takes only bcrypt)."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(b"$2b$", 5, None, 0)
    assert salt, "libcrypt cannot make a bcrypt salt"
    hashed = lib.crypt(password.encode(), salt)
    assert hashed, "libcrypt cannot hash with bcrypt"
    assert hashed.startswith(b"$2b$"), hashed
    return str(hashed.decode())


def start_distribution(
    workdir: Path,
    *,
    username: str,
    password: str,
    storage_root: Path | None = None,
    http_secret: str | None = None,
    name: str = "distribution",
) -> tuple[ServerProcess, str]:
    """Start Distribution with filesystem storage, deletes enabled and htpasswd auth.

    Instances given the same ``storage_root`` and ``http_secret`` share upload sessions,
    which is how Distribution runs behind a load balancer.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    htpasswd = workdir / "htpasswd"
    htpasswd.write_text(f"{username}:{_bcrypt(password)}\n")
    config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage_root or workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "secret": http_secret or secrets.token_hex(16),
            # Without a drain timeout Distribution dies of SIGTERM instead of exiting 0.
            "draintimeout": "5s",
        },
        "auth": {"htpasswd": {"realm": "berth-e2e", "path": str(htpasswd)}},
    }
    config_path = workdir / "config.yml"
    # YAML is a superset of JSON, so the config needs no YAML writer.
    config_path.write_text(json.dumps(config, indent=2))
    server = ServerProcess(
        name,
        [DISTRIBUTION_BINARY, "serve", str(config_path)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        log_path=workdir / "server.log",
        cwd=workdir,
    )
    server.start()
    host = f"127.0.0.1:{port}"
    try:
        server.wait_ready(f"http://{host}", DISTRIBUTION_READY_TIMEOUT)
    except ServerError:
        server.stop()
        raise
    return server, host


# ---------------------------------------------------------------------------- Berth


def berth_env(password: str, **extra: str) -> dict[str, str]:
    """The environment for ``berth serve``: ours minus any BERTH_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env["BERTH_ADMIN_PASSWORD"] = password
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def start_berth(
    data_dir: Path,
    *,
    password: str,
    extra_env: dict[str, str] | None = None,
    name: str = "berth",
) -> tuple[ServerProcess, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = ServerProcess(
        name,
        [
            sys.executable,
            "-m",
            "registry.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=berth_env(password, **(extra_env or {})),
        log_path=data_dir.parent / f"{data_dir.name}.log",
        cwd=REPO_ROOT,
        owned_path=data_dir,
    )
    server.start()
    host = f"127.0.0.1:{port}"
    try:
        server.wait_ready(f"http://{host}", BERTH_READY_TIMEOUT)
    except ServerError:
        server.stop()
        raise
    return server, host
