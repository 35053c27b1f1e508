"""Running the container tools (skopeo, buildah, podman) in a sandbox of their own.

Each test gets a private HOME, auth file and vfs storage, so nothing is read from or left in
the machine's /root, /var/lib/containers or /run/containers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TOOL_TIMEOUT = 180.0


@dataclass
class Outcome:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode(errors="replace")

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\nexit code {self.returncode}\n"
            f"stdout: {self.text[-4000:]}\nstderr: {self.stderr[-4000:]}"
        )


class Toolbox:
    """Invokes the tools with a private environment rooted at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        # An auth file nobody else writes; tools default to it via REGISTRY_AUTH_FILE.
        self.authfile = root / "auth.json"
        self.authfile.write_text('{"auths": {}}')
        # podman refuses a runroot longer than 50 characters; pytest's tmp paths are longer.
        self._short = Path(tempfile.mkdtemp(prefix="e2e-run-", dir="/tmp"))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "REGISTRY_AUTH_FILE": str(self.authfile),
            "TMPDIR": str(self._dir("tmp")),
        }

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def storage(self, name: str) -> list[str]:
        """Global flags for a private vfs container store called ``name``."""
        return [
            "--storage-driver",
            "vfs",
            "--root",
            str(self._dir(f"{name}-root")),
            "--runroot",
            str(self._short / name),
        ]

    def close(self) -> None:
        shutil.rmtree(self._short, ignore_errors=True)

    def run(self, argv: list[str], *, input_text: str | None = None, check: bool = True) -> Outcome:
        proc = subprocess.run(
            argv,
            env=self.env,
            cwd=self.root,
            input=input_text.encode() if input_text is not None else None,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
        outcome = Outcome(argv, proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))
        if check:
            assert outcome.returncode == 0, outcome.explain()
        return outcome
