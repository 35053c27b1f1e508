"""The host plumbing of the embedded services that needs no server: the directory lock, log
tails, the password file, atomic config writes, pid files and wrapped child commands."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

from registry.embedded.host import (
    DirLock,
    EmbeddedServiceError,
    child_argv,
    load_or_create_secret,
    pid_alive,
    process_cwd,
    read_pid,
    tail,
    write_file,
)


def test_one_process_holds_a_directory_at_a_time(tmp_path: Path) -> None:
    first = DirLock(tmp_path / "postgres.lock", "PostgreSQL")
    second = DirLock(tmp_path / "postgres.lock", "PostgreSQL")
    first.acquire()
    first.acquire()  # again: still held once
    assert first.held
    with pytest.raises(EmbeddedServiceError, match="already run by another Berth process"):
        second.acquire()
    assert not second.held
    first.release()
    assert not first.held
    second.acquire()
    assert second.held
    second.release()
    second.release()


def test_the_tail_of_a_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"".join(b"line %d\n" % n for n in range(100)) + b"bad \xff byte\n")
    assert tail(log, 3) == "line 98\nline 99\nbad \ufffd byte"
    assert tail(tmp_path / "missing.log") == ""


def test_a_long_logs_tail_reads_only_its_end(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"x" * 1_000_000 + b"\nthe end\n")
    assert tail(log, 1) == "the end"


def test_the_password_file_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "password"
    made = load_or_create_secret(path)
    assert len(made) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == made
    path.chmod(0o644)
    assert load_or_create_secret(path) == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_empty_password_file_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("\n")
    with pytest.raises(EmbeddedServiceError, match="is empty; restore the password"):
        load_or_create_secret(path)


def test_a_config_is_replaced_whole_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "redis.conf"
    path.write_text("old\n")
    (tmp_path / "redis.conf.tmp").write_text("left by a crash")
    write_file(path, "port 6390\n", 0o640, None)
    assert path.read_text() == "port 6390\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["redis.conf"]


@pytest.mark.parametrize(
    ("text", "pid"),
    [("4242\n/var/lib/postgres\n", 4242), (" 17 ", 17), ("0\n", None), ("-5", None), ("x", None)],
)
def test_a_pid_file(tmp_path: Path, text: str, pid: int | None) -> None:
    path = tmp_path / "postmaster.pid"
    path.write_text(text)
    assert read_pid(path) == pid


def test_a_missing_pid_file(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "none.pid") is None


def test_this_process_is_alive_and_where_it_runs() -> None:
    assert pid_alive(os.getpid())
    assert process_cwd(os.getpid()) == Path.cwd()
    assert process_cwd(2**22 + 1) is None  # above any pid Linux hands out


def test_a_child_command_dies_with_its_parent_and_may_drop_privileges() -> None:
    argv = child_argv(["redis-server", "/etc/redis.conf"], signal.SIGTERM)
    assert Path(argv[0]).name == "setpriv"
    assert argv[1:] == ["--pdeathsig=SIGTERM", "--", "redis-server", "/etc/redis.conf"]


def test_without_setpriv_no_child_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name, path=None: None)
    with pytest.raises(EmbeddedServiceError, match="setpriv"):
        child_argv(["postgres"], signal.SIGKILL)
