"""Keeping child processes alive: the embedded PostgreSQL and Redis, the job worker and the
scheduler.

A supervisor watches every child it was given from one thread. A child that dies is started
again after a backoff (1 s, 2 s, 4 s … at most 30 s), and each event is announced on the
supervising process's own output. A child that keeps dying (more than ``restart_limit``
deaths within ``window_seconds``) makes the supervisor give up: it calls ``on_give_up`` so
the supervising process can exit non-zero and let an outer supervisor (systemd, Kubernetes)
take over. Children are stopped in the reverse order they were added.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from registry.embedded.host import child_argv

log = logging.getLogger(__name__)

Announce = Callable[[str], None]


class Supervised(Protocol):
    """A child process the supervisor can watch."""

    name: str

    def poll(self) -> int | None:
        """The child's exit code once it has died; None while it runs."""

    def restart(self) -> None:
        """Start the child again after it died; raise if it cannot start."""

    def stop(self) -> None:
        """Stop the child and wait until it is gone (bounded)."""


class BerthChild:
    """A Berth command (``berth worker``, ``berth scheduler`` …) run as a child process.

    It runs the installed ``registry`` package (``python -P`` keeps the current directory
    off ``sys.path``, so a ``registry/`` folder there is never imported instead) and gets
    ``SIGTERM`` from the kernel if its parent dies.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        log_path: Path | None = None,
        stop_timeout: float = 30.0,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self._args = args
        self._pass_fds = pass_fds
        self._log_path = log_path
        self._stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> BerthChild:
        argv = [sys.executable, "-P", "-m", "registry.cli", *self._args]
        output: IO[bytes] | None = None
        try:
            if self._log_path is not None:
                output = self._log_path.open("ab")
            self._proc = subprocess.Popen(
                child_argv(argv, signal.SIGTERM),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                # Own session: Ctrl-C on the terminal reaches the supervisor only, which then
                # stops its children in order.
                start_new_session=True,
                pass_fds=self._pass_fds,
            )
        finally:
            if output is not None:
                output.close()
        return self

    def poll(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        """SIGTERM (a Celery worker's warm shutdown), then SIGQUIT (its cold shutdown) once the
        bounded wait is over, then SIGKILL."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for send, wait in (
            (proc.terminate, self._stop_timeout),
            (lambda: proc.send_signal(signal.SIGQUIT), 5.0),
        ):
            with contextlib.suppress(ProcessLookupError):
                send()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
                return
        proc.kill()
        proc.wait()


class Supervisor:
    def __init__(
        self,
        announce: Announce,
        *,
        restart_limit: int = 5,
        window_seconds: float = 300.0,
        backoff_max_seconds: float = 30.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._announce = announce
        self._restart_limit = restart_limit
        self._window = window_seconds
        self._backoff_max = backoff_max_seconds
        self._poll = poll_seconds
        self._children: list[Supervised] = []
        self._deaths: dict[str, list[float]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.gave_up: str | None = None

    def adopt(self, child: Supervised) -> None:
        """Watch a child that is already running; it is stopped with the others."""
        self._children.append(child)

    def start(self, on_give_up: Callable[[str], None]) -> None:
        self._thread = threading.Thread(
            target=self._watch, args=(on_give_up,), name="supervisor", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching, then stop the children, the last adopted first."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=60.0)
        for child in reversed(self._children):
            try:
                child.stop()
            except Exception:
                log.exception("stopping %s failed", child.name)
        self._children.clear()

    def _watch(self, on_give_up: Callable[[str], None]) -> None:
        while not self._stopping.wait(self._poll):
            for child in list(self._children):
                code = child.poll()
                if code is None or self._stopping.is_set():
                    continue
                if not self._revive(child, code):
                    self.gave_up = child.name
                    on_give_up(child.name)
                    return

    def _revive(self, child: Supervised, code: int) -> bool:
        """Restart ``child`` with backoff until it runs; False when it keeps dying."""
        while not self._stopping.is_set():
            now = time.monotonic()
            deaths = [t for t in self._deaths.get(child.name, []) if now - t < self._window]
            deaths.append(now)
            self._deaths[child.name] = deaths
            if len(deaths) > self._restart_limit:
                self._announce(
                    f"{child.name} died {len(deaths)} times within {self._window:.0f}s "
                    f"(last exit code {code}); giving up"
                )
                return False
            delay = min(self._backoff_max, 2.0 ** (len(deaths) - 1))
            self._announce(f"{child.name} exited with code {code}; restarting in {delay:.0f}s")
            if self._stopping.wait(delay):
                return True
            try:
                child.restart()
            except Exception as exc:
                self._announce(f"{child.name} could not be restarted: {exc}")
                code = -1
                continue
            self._announce(f"{child.name} restarted")
            return True
        return True
