"""A blob is on disk before its name is: the filesystem driver's move and put_content, watched
through strace (a power cut cannot be had here; the system calls that survive one can)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

_SCRIPT = """
import asyncio, sys
from pathlib import Path
from registry.storage.filesystem import FilesystemDriver

async def main(root):
    driver = FilesystemDriver(Path(root))
    writer = await driver.writer("/uploads/u1/data")
    await writer.write(b"layer bytes" * 1000)
    await writer.commit()
    await driver.move("/uploads/u1/data", "/blobs/sha256/ab/abcd/data")
    await driver.put_content("/blobs/sha256/cd/cdef/data", b"report")

asyncio.run(main(sys.argv[1]))
"""


def _traced(root: Path) -> list[str]:
    """The fsync and rename calls of a move and a put_content, with the paths they name."""
    trace = "trace=fsync,fdatasync,rename,renameat,renameat2"
    argv = ["strace", "-f", "-y", "-qq", "-e", "signal=none", "-e", trace]
    out = subprocess.run(
        [*argv, sys.executable, "-c", _SCRIPT, str(root)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in out.stderr.splitlines() if "sync(" in line or "rename" in line]


def _first(calls: list[str], *parts: str) -> int:
    return next(i for i, call in enumerate(calls) if all(part in call for part in parts))


def test_a_blob_is_synced_before_it_is_named_and_its_name_after(tmp_path: Path) -> None:
    root = tmp_path / "store"
    calls = _traced(root)
    text = "\n".join(calls)

    synced = _first(calls, "fsync(", f"<{root}/uploads/u1/data>")
    renamed = _first(calls, "rename", f"{root}/blobs/sha256/ab/abcd/data")
    assert synced < renamed, text
    # Every directory from the blob's up to the store's root: any level may be new.
    for directory in ("/blobs/sha256/ab/abcd", "/blobs/sha256/ab", "/blobs/sha256", "/blobs", ""):
        assert any(f"<{root}{directory}>" in call for call in calls[renamed + 1 :]), text

    staged = _first(calls, "fsync(", "cdef/data!tmp.")
    named = _first(calls, "rename", "cdef/data!tmp.")
    assert staged < named, text
    assert any(f"<{root}/blobs/sha256/cd>" in call for call in calls[named + 1 :]), text
