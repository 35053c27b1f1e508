"""A private RabbitMQ node for tests, never the system service Debian's package may start.

Everything the node writes (Mnesia database, logs, Erlang cookie) lives in a fresh temporary
directory; it listens for AMQP on a free 127.0.0.1 port and for Erlang distribution on another,
and talks to its own epmd, started here in the foreground on a third free port, so that nothing
outlives ``stop()``: the node is stopped with ``rabbitmqctl stop`` (then SIGTERM, then SIGKILL of
its process group), and the epmd is our child, terminated last.

The server script is run directly from /usr/lib/rabbitmq/bin: Debian's /usr/sbin wrapper would
``su`` to the rabbitmq user and use /var/lib/rabbitmq. The node runs as the user running the
tests.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from kombu.connection import Connection
from kombu.exceptions import OperationalError

SCRIPT_DIRS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/sbin"))
EPMD = "epmd"
START_SECONDS = 60.0
STOP_SECONDS = 15.0


def _script(name: str) -> Path | None:
    for directory in SCRIPT_DIRS:
        path = directory / name
        if os.access(path, os.X_OK):
            return path
    return None


def rabbitmq_available() -> bool:
    return _script("rabbitmq-server") is not None and shutil.which(EPMD) is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGTERM the process's group (it was started in a session of its own), then SIGKILL."""
    if process is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    process.wait()
    # Helpers the VM forked (erl_child_setup, inet_gethost) share its group: make sure they go.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class RabbitMQServer:
    """One RabbitMQ node; ``start()`` it, ``stop()`` it when done. ``url`` is its AMQP URL
    (user guest, default vhost)."""

    def __init__(self) -> None:
        self.nodename = f"berth-test-{secrets.token_hex(4)}@localhost"
        self.port = 0
        self.dist_port = 0
        self.epmd_port = 0
        self.root: Path | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "rabbitmq-server.out"

    def log(self) -> str:
        """What the node wrote to its console and its log file, for failure messages."""
        if self.root is None:
            return ""
        parts = [self.log_path, self.root / "log" / f"{self.nodename}.log"]
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in parts if p.exists())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> RabbitMQServer:
        server = _script("rabbitmq-server")
        if server is None or shutil.which(EPMD) is None:
            raise RuntimeError("rabbitmq-server is not installed (Debian package rabbitmq-server)")
        self.root = Path(tempfile.mkdtemp(prefix="berth-test-rabbitmq-"))
        try:
            self._start_epmd()
            self._start_server(server)
        except BaseException:
            self.stop()
            raise
        return self

    def _environment(self) -> dict[str, str]:
        assert self.root is not None
        root = self.root
        return {
            **os.environ,
            # The Erlang cookie goes to $HOME/.erlang.cookie: keep it in our directory.
            "HOME": str(root),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(root / "plugins-expand"),
            # Not /etc/rabbitmq/rabbitmq-env.conf: nothing of the system installation applies.
            "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
        }

    def _start_epmd(self) -> None:
        assert self.root is not None
        for _ in range(3):  # a port picked as free may be taken before epmd binds it
            self.epmd_port = _free_port()
            # In the foreground (no -daemon), so it is our child; the node registers with it
            # instead of starting a daemon epmd of its own.
            self._epmd = subprocess.Popen(
                [EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._epmd.poll() is None:
                if _listening(self.epmd_port):
                    return
                time.sleep(0.02)
            _stop_process(self._epmd, 2)
            self._epmd = None
        raise RuntimeError("epmd did not start")

    def _start_server(self, script: Path) -> None:
        assert self.root is not None
        last_error = ""
        for _ in range(3):  # again, the free ports may be taken before the node binds them
            self.port, self.dist_port = _free_port(), _free_port()
            (self.root / "rabbitmq.conf").write_text(
                f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                # guest may log in from anywhere (the default is loopback only; harmless on
                # a 127.0.0.1 listener, but explicit).
                "loopback_users = none\n"
                "log.console = true\n"
                "log.console.level = info\n"
            )
            (self.root / "advanced.config").write_text("[].\n")
            (self.root / "enabled_plugins").write_text("[].\n")
            (self.root / "rabbitmq-env.conf").write_text("")
            with self.log_path.open("wb") as log:
                self._server = subprocess.Popen(
                    [str(script)],
                    env=self._environment(),
                    cwd=self.root,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_until_ready():
                return
            last_error = self.log()
            self._stop_server()
        raise RuntimeError(f"rabbitmq-server did not start:\n{last_error}")

    def _wait_until_ready(self) -> bool:
        """True once an AMQP connection (handshake and guest's login) works."""
        assert self._server is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self._server.poll() is None:
            # Until the listener is up there is nothing to connect to (and kombu's retries
            # would only add their back-off on top of the node's boot time).
            if _listening(self.port):
                connection = Connection(self.url, connect_timeout=2)
                try:
                    connection.ensure_connection(
                        max_retries=10, interval_start=0.2, interval_step=0.2, interval_max=1
                    )
                except OperationalError:
                    pass  # the node may still be booting: go on until the deadline
                else:
                    return True
                finally:
                    connection.release()
            time.sleep(0.1)
        return False

    def _stop_server(self) -> None:
        process, self._server = self._server, None
        if process is None:
            return
        ctl = _script("rabbitmqctl")
        if process.poll() is None and ctl is not None:
            # rabbitmqctl is an Erlang node too; by default it listens on 35672-35682, which
            # another session's rabbitmqctl may hold: give it a free port of its own.
            ctl_port = str(_free_port())
            env = {
                **self._environment(),
                "RABBITMQ_CTL_DIST_PORT_MIN": ctl_port,
                "RABBITMQ_CTL_DIST_PORT_MAX": ctl_port,
            }
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    [str(ctl), "-n", self.nodename, "stop"],
                    env=env,
                    cwd=self.root,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=STOP_SECONDS,
                    check=False,
                )
        _stop_process(process, STOP_SECONDS)

    def stop(self) -> None:
        self._stop_server()
        epmd, self._epmd = self._epmd, None
        _stop_process(epmd, 5)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
