#!/usr/bin/env python3
"""Scan-all benchmark: push --artifacts small images into a Berth, run scan-all, and time it.

    python bench/scan_all_bench.py [--artifacts 1000] [--repositories 20] [--records 2000]
                                   [--concurrency 8] [--engine builtin|trivy]
                                   [--worker-concurrency 2]
                                   [--url URL --username U --password P
                                    [--scanner-pid N] [--worker-pid N]] [--json FILE]

Without ``--url`` the script starts its own ``berth serve`` (the embedded default, in a
temporary data directory removed afterwards, with a synthetic OSV database of --records
Debian records imported) and finds its scanner and job worker among the server's children.
Against a running Berth (``--url``) it pushes into a new project there and measures the
processes named by ``--scanner-pid``/``--worker-pid``, if given.

Every image is distinct: a Debian 12 layer with a dpkg status of a few packages (some of which
the OSV records affect) and a file naming the image. It prints the push time, the scan-all
time to completion, artifacts scanned per second, and the peak resident set of the scanner
and of the job worker sampled every 0.2 s during the scan-all.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import psutil

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
PACKAGES_PER_IMAGE = 8
SOURCES = 200
MIB = 1024 * 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def image(index: int) -> tuple[bytes, dict[str, bytes]]:
    """The manifest of image ``index`` and its blobs by digest."""
    status = "\n".join(
        f"Package: pkg{index % 50}-{p}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Source: src{(index + p) % SOURCES}\nVersion: 1.{(index + p) % 7}-1\n"
        for p in range(PACKAGES_PER_IMAGE)
    )
    layer = _tar_gz(
        {
            "etc/os-release": b"ID=debian\nVERSION_ID=12\n",
            "var/lib/dpkg/status": status.encode(),
            "etc/bench-image": f"{index}\n".encode(),
        }
    )
    diff_id = _sha256(gzip.decompress(layer))
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": _sha256(layer), "size": len(layer)}],
        }
    ).encode()
    return manifest, {_sha256(config): config, _sha256(layer): layer}


def osv_zip(path: Path, records: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(records):
            record = {
                "id": f"DEBIAN-CVE-2099-{i:05d}",
                "modified": "2024-01-01T00:00:00Z",
                "severity": [{"type": "CVSS_V3", "score": VECTOR}],
                "affected": [
                    {
                        "package": {"ecosystem": "Debian:12", "name": f"src{i % (SOURCES * 4)}"},
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


class Peak(threading.Thread):
    """The peak resident set of each named process tree, sampled until stopped."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pids = pids
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self._stop_event = threading.Event()

    def _rss(self, pid: int) -> int:
        try:
            root = psutil.Process(pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], self._rss(pid))
            self._stop_event.wait(0.2)

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        return {name: round(value / MIB, 1) for name, value in self.peak.items()}


class Berth:
    """A ``berth serve`` of the script's own, in a temporary data directory."""

    def __init__(self, engine: str, records: int, worker_concurrency: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="berth-scan-bench-"))
        self.password = "bench-" + secrets.token_urlsafe(12)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.records = records
        self.engine = engine
        self.worker_concurrency = worker_concurrency
        self.proc: subprocess.Popen[bytes] | None = None

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "registry.cli", *args]

    def start(self) -> None:
        data = self.root / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env.update(
            BERTH_ADMIN_PASSWORD=self.password,
            BERTH_SCANNER_ENGINE=self.engine,
            BERTH_WORKER_CONCURRENCY=str(self.worker_concurrency),
        )
        archive = self.root / "osv.zip"
        osv_zip(archive, self.records)
        started = time.monotonic()
        subprocess.run(
            self._cli("scanner", "--data-dir", str(data), "import-osv", str(archive)),
            env=env,
            check=True,
            capture_output=True,
        )
        log(f"imported {self.records} OSV records in {time.monotonic() - started:.1f} s")
        self.proc = subprocess.Popen(
            self._cli(
                "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(data)
            ),
            env=env,
            stdout=(self.root / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"berth serve exited; see {self.root / 'serve.log'}")
            try:
                scanners = httpx.get(
                    f"{self.url}/api/v2.0/scanners", auth=("admin", self.password), timeout=2
                )
                if scanners.status_code == 200 and any(
                    s["name"] == "Berth" for s in scanners.json()
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit("berth serve was not ready in 180 s")

    def children(self) -> dict[str, int]:
        """The scanner's and the job worker's pids, by their command lines."""
        assert self.proc is not None
        found: dict[str, int] = {}
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                argv = child.cmdline()
            except psutil.Error:
                continue
            if "registry.cli" not in argv:
                continue
            if "scanner" in argv:
                found["scanner"] = child.pid
            elif "celery-worker" in argv:
                found["worker"] = child.pid
        return found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


class Pusher:
    """Pushes through the distribution API with a token from the registry's realm."""

    def __init__(self, url: str, username: str, password: str, concurrency: int) -> None:
        self.url, self.auth = url, (username, password)
        limits = httpx.Limits(max_connections=concurrency)
        self.http = httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False)
        self.tokens: dict[str, str] = {}

    async def _token(self, repository: str) -> str:
        if repository not in self.tokens:
            challenge = (await self.http.get("/v2/")).headers.get("www-authenticate", "")
            params = dict(
                part.split("=", 1) for part in challenge.removeprefix("Bearer ").split(",")
            )
            realm, service = params["realm"].strip('"'), params["service"].strip('"')
            answer = await self.http.get(
                realm,
                params={"service": service, "scope": f"repository:{repository}:pull,push"},
                auth=self.auth,
            )
            answer.raise_for_status()
            self.tokens[repository] = answer.json()["token"]
        return self.tokens[repository]

    async def push(
        self, repository: str, tag: str, manifest: bytes, blobs: dict[str, bytes]
    ) -> None:
        headers = {"Authorization": f"Bearer {await self._token(repository)}"}
        for digest, data in blobs.items():
            start = await self.http.post(f"/v2/{repository}/blobs/uploads/", headers=headers)
            start.raise_for_status()
            put = await self.http.put(
                start.headers["location"],
                params={"digest": digest},
                content=data,
                headers={**headers, "Content-Type": "application/octet-stream"},
            )
            put.raise_for_status()
        pushed = await self.http.put(
            f"/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={**headers, "Content-Type": OCI_MANIFEST},
        )
        pushed.raise_for_status()


async def push_all(args: argparse.Namespace, url: str, password: str, project: str) -> float:
    pusher = Pusher(url, args.username, password, args.concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(args.artifacts):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            manifest, blobs = image(index)
            repository = f"{project}/app{index % args.repositories}"
            await pusher.push(repository, f"v{index}", manifest, blobs)

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    finally:
        await pusher.http.aclose()
    return time.monotonic() - started


def scan_all(api: httpx.Client, timeout: float) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    run = api.post("/system/scanAll/schedule", json={"schedule": {"type": "Manual"}})
    run.raise_for_status()
    metrics: dict[str, Any] = {}
    deadline = started + timeout
    # Done once this run's scans were seen going and none is left (earlier runs' reports
    # count as finished from the start).
    seen_ongoing = False
    while time.monotonic() < deadline:
        metrics = api.get("/scans/all/metrics").json()
        seen_ongoing = seen_ongoing or bool(metrics["ongoing"])
        if seen_ongoing and not metrics["ongoing"]:
            return time.monotonic() - started, metrics
        time.sleep(0.25)
    raise SystemExit(f"scan-all did not finish in {timeout} s: {metrics}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=1000)
    parser.add_argument("--repositories", type=int, default=20)
    parser.add_argument("--records", type=int, default=2000, help="OSV records (own Berth)")
    parser.add_argument("--concurrency", type=int, default=8, help="pushes at once")
    parser.add_argument("--engine", choices=("builtin", "trivy"), default="builtin")
    parser.add_argument(
        "--worker-concurrency", type=int, default=2, help="jobs the worker runs at once (own Berth)"
    )
    parser.add_argument("--url", help="a running Berth (default: start one)")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default=os.environ.get("BERTH_BENCH_PASSWORD", ""))
    parser.add_argument("--scanner-pid", type=int)
    parser.add_argument("--worker-pid", type=int)
    parser.add_argument("--timeout", type=float, default=3600, help="for the scan-all")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    own = None if args.url else Berth(args.engine, args.records, args.worker_concurrency)
    try:
        if own is not None:
            own.start()
            url, password, pids = own.url, own.password, own.children()
        else:
            url, password = args.url.rstrip("/"), args.password
            pids = {
                name: pid
                for name, pid in (("scanner", args.scanner_pid), ("worker", args.worker_pid))
                if pid
            }
        project = "scanbench" + secrets.token_hex(4)
        with httpx.Client(
            base_url=f"{url}/api/v2.0", auth=(args.username, password), timeout=60
        ) as api:
            api.post("/projects", json={"project_name": project}).raise_for_status()
            push_seconds = push_all_sync(args, url, password, project)
            log(f"pushed {args.artifacts} images in {push_seconds:.1f} s")
            sampler = Peak(pids)
            sampler.start()
            try:
                seconds, metrics = scan_all(api, args.timeout)
            finally:
                peaks = sampler.stop()
        scanned = int(metrics["total"])
        result = {
            "artifacts_pushed": args.artifacts,
            "push_seconds": round(push_seconds, 1),
            "scan_all_seconds": round(seconds, 1),
            "artifacts_scanned": scanned,
            "artifacts_per_second": round(scanned / seconds, 2),
            "scan_status": metrics.get("metrics", {}),
            "peak_rss_mib": peaks,
            "engine": args.engine if own is not None else "as configured",
            "worker_concurrency": args.worker_concurrency if own is not None else "as configured",
            "cpus": os.cpu_count(),
        }
    finally:
        if own is not None:
            own.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def push_all_sync(args: argparse.Namespace, url: str, password: str, project: str) -> float:
    return asyncio.run(push_all(args, url, password, project))


if __name__ == "__main__":
    sys.exit(main())
