"""The supervisor with real child processes: restarts with backoff, announcements, giving up,
and stopping in reverse order."""

from __future__ import annotations

import subprocess
import threading
import time

from registry.embedded.supervisor import Supervisor


class Sleeper:
    """A child that sleeps until stopped; ``die_next`` makes its next run exit at once."""

    def __init__(self, name: str, stopped: list[str]) -> None:
        self.name = name
        self.starts = 0
        self.die_next = False
        self._stopped = stopped
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.starts += 1
        argv = ["sh", "-c", "exit 3"] if self.die_next else ["sleep", "60"]
        self._proc = subprocess.Popen(argv)

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.kill()

    def poll(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        self._stopped.append(self.name)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(5)


def _wait(condition: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_dead_child_is_restarted_and_the_event_announced() -> None:
    said: list[str] = []
    stopped: list[str] = []
    supervisor = Supervisor(said.append, poll_seconds=0.02, backoff_max_seconds=0.05)
    child = Sleeper("worker", stopped)
    supervisor.adopt(child)
    supervisor.start(on_give_up=lambda name: None)
    try:
        child.kill()
        _wait(lambda: child.starts == 2 and child.poll() is None)
        assert said[0] == "worker exited with code -9; restarting in 0s"
        assert said[1] == "worker restarted"
        assert supervisor.gave_up is None
    finally:
        supervisor.stop()
    assert child.poll() is not None


def test_a_child_that_keeps_dying_makes_the_supervisor_give_up() -> None:
    said: list[str] = []
    gave_up = threading.Event()
    supervisor = Supervisor(
        said.append, restart_limit=2, poll_seconds=0.02, backoff_max_seconds=0.01
    )
    child = Sleeper("scheduler", [])
    child.die_next = True
    supervisor.adopt(child)
    supervisor.start(on_give_up=lambda name: gave_up.set())
    try:
        child.kill()
        assert gave_up.wait(10)
        assert supervisor.gave_up == "scheduler"
        assert said[-1].startswith("scheduler died 3 times within 300s")
        assert said[-1].endswith("giving up")
    finally:
        supervisor.stop()


def test_children_stop_in_reverse_order_of_adoption() -> None:
    stopped: list[str] = []
    supervisor = Supervisor(lambda message: None)
    for name in ("postgres", "redis", "worker"):
        supervisor.adopt(Sleeper(name, stopped))
    supervisor.stop()
    assert stopped == ["worker", "redis", "postgres"]
