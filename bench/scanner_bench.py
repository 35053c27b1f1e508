"""Benchmark of Berth's scanner adapter, without a registry: OSV import time, and the time and
peak memory of one scan (streamed layer reading, whiteouts, package parsing, matching) of a
synthetic Debian image with many packages and a large filler file, against a synthetic OSV
database. With ``--trivy``, trivy's inventory of the same image (written as an OCI layout) is
timed as the reference.

    python bench/scanner_bench.py [--packages 2000] [--records 50000] [--image-mib 500]
                                  [--trivy] [--json FILE]

Peak memory is the process's maximum resident set size after each phase (ru_maxrss).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import resource
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.scanners import trivy
from registry.scanners.engine import ScannerInfo, report
from registry.scanners.inventory import Filesystem, inventory_of
from registry.scanners.osv import Database

OS_RELEASE = "ID=debian\nVERSION_ID=12\n"
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status(packages: int) -> str:
    return "\n".join(
        f"Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Source: src{i % (packages // 2 or 1)}\nVersion: 1.{i % 7}-1\n"
        for i in range(packages)
    )


def _osv_zip(path: Path, records: int, packages: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(records):
            record = {
                "id": f"DEBIAN-CVE-2099-{i:05d}",
                "modified": "2024-01-01T00:00:00Z",
                "severity": [{"type": "CVSS_V3", "score": VECTOR}],
                "affected": [
                    {
                        "package": {"ecosystem": "Debian:12", "name": f"src{i % (packages * 4)}"},
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [{"introduced": "0"}, {"fixed": f"1.{i % 9}-1"}],
                            }
                        ],
                    }
                ],
            }
            archive.writestr(f"{record['id']}.json", json.dumps(record))


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        count = min(len(target), self._left)
        target[:count] = bytes(count)
        self._left -= count
        return count


def _layer(path: Path, packages: int, filler_bytes: int) -> None:
    """A gzip'd layer on disk: os-release, the dpkg status and a filler file of zeros."""
    with gzip.open(path, "wb", compresslevel=1) as out, tarfile.open(fileobj=out, mode="w|") as tar:
        for name, text in (
            ("etc/os-release", OS_RELEASE),
            ("etc/debian_version", "12.1\n"),
            ("var/lib/dpkg/status", _status(packages)),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        big = tarfile.TarInfo("opt/filler.bin")
        big.size = filler_bytes
        tar.addfile(big, _Zeros(filler_bytes))


def _layout(root: Path, layer: Path) -> Path:
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    digest = hashlib.sha256()
    diff = hashlib.sha256()
    with layer.open("rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            digest.update(chunk)
    with gzip.open(layer, "rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            diff.update(chunk)
    shutil.copyfile(layer, blobs / digest.hexdigest())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff.hexdigest()}"]},
        }
    ).encode()
    config_digest = hashlib.sha256(config).hexdigest()
    (blobs / config_digest).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{digest.hexdigest()}",
                    "size": layer.stat().st_size,
                }
            ],
        }
    ).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    (blobs / manifest_digest).write_bytes(manifest)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{manifest_digest}",
                        "size": len(manifest),
                    }
                ],
            }
        )
    )
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--records", type=int, default=50000)
    parser.add_argument("--image-mib", type=int, default=500)
    parser.add_argument("--trivy", action="store_true", help="also time trivy's inventory")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "packages": args.packages,
        "records": args.records,
        "image_mib": args.image_mib,
    }
    with tempfile.TemporaryDirectory(prefix="berth-scanner-bench-") as tmp:
        root = Path(tmp)
        _osv_zip(root / "osv.zip", args.records, args.packages)
        layer = root / "layer.tar.gz"
        _layer(layer, args.packages, args.image_mib * 1024 * 1024)
        results["peak_mib_before"] = round(_peak_mib(), 1)

        started = time.perf_counter()
        db = Database(root / "osv.sqlite")
        imported = db.import_path(root / "osv.zip")
        results["import_seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        again = db.import_path(root / "osv.zip")
        results["reimport_unchanged_seconds"] = round(time.perf_counter() - started, 2)
        assert imported.added == args.records
        assert again.unchanged == args.records

        peak_before_scan = _peak_mib()
        started = time.perf_counter()
        fs = Filesystem()
        with gzip.open(layer, "rb") as stream:
            fs.apply_layer(stream)
        inventory = inventory_of(fs)
        results["inventory_seconds"] = round(time.perf_counter() - started, 2)
        found = report(db, inventory, ScannerInfo("Berth", "Berth", "bench"), {})
        results["scan_seconds"] = round(time.perf_counter() - started, 2)
        results["packages_found"] = len(inventory.packages)
        results["vulnerabilities_found"] = len(found["vulnerabilities"])
        results["scan_peak_growth_mib"] = round(_peak_mib() - peak_before_scan, 1)

        if args.trivy:
            layout = _layout(root / "layout", layer)
            started = time.perf_counter()
            from_trivy = trivy.scan_layout(layout, root / "trivy-cache")
            results["trivy_inventory_seconds"] = round(time.perf_counter() - started, 2)
            results["trivy_packages_found"] = len(from_trivy.packages)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
