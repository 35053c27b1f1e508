"""Where the processes of one Berth write their metric samples."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def configure(data_dir: Path, *, clean: bool) -> Path:
    """Point this process (and every process it starts, through the environment) at one
    sample directory: ``PROMETHEUS_MULTIPROC_DIR`` when set, else ``<data_dir>/prometheus``.

    ``clean`` empties it first: ``berth serve`` does so at start, since counters in files of
    processes from an earlier run would otherwise be added to this run's. Call it before any
    instrument is used.
    """
    given = os.environ.get(ENV)
    directory = Path(given) if given else data_dir / "prometheus"
    if clean and directory.exists():
        for entry in directory.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)
    return directory


def directory() -> Path | None:
    """The sample directory this process writes to, or None (samples stay in memory)."""
    given = os.environ.get(ENV)
    return Path(given) if given else None
