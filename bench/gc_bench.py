#!/usr/bin/env python3
"""Garbage collection of many unreferenced blobs: Berth against Distribution.

* Berth: an embedded PostgreSQL and Redis, ``--blobs`` blob rows no artifact or project
  holds, their files in storage (the filesystem, then S3 on a moto server), and the service
  function Berth's GC job runs (``collect_garbage``, online, 5 workers) in a process of its
  own, so its peak resident memory is its own.
* Distribution: a filesystem store of the same number and size of blobs, in its layout, no
  repository naming them, and ``docker-registry garbage-collect`` (offline).

Prints blobs freed per second and the collector's peak RSS. Needs Berth installed with its
test extras (moto) and Debian's ``docker-registry``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DISTRIBUTION = shutil.which("docker-registry") or "/usr/bin/docker-registry"
FILL_CONCURRENCY = 32


def _blob(index: int, size: int) -> tuple[str, bytes]:
    data = index.to_bytes(8, "big") + os.urandom(max(size - 8, 0))
    return hashlib.sha256(data).hexdigest(), data


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------------ Berth


def _berth_env(dsn: str, redis_url: str, data_dir: Path, storage: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env.update(
        BERTH_DATABASE_URL=dsn,
        BERTH_REDIS_URL=redis_url,
        BERTH_DATA_DIR=str(data_dir),
        BERTH_GC_GRACE_SECONDS="0",
        BERTH_LOG_LEVEL="warning",
        **storage,
    )
    return env


async def _fill_berth(env: dict[str, str], blobs: int, size: int) -> None:
    """Rows in ``blobs`` (no project, no artifact) and their files, through Berth's driver."""
    import asyncpg

    from registry.config import load_settings
    from registry.db.migrate import migrate
    from registry.oci.digest import Digest
    from registry.storage import create_driver, layout

    os.environ.update(env)
    settings = load_settings()
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await migrate(conn)
        await conn.execute("TRUNCATE blobs CASCADE")
        driver = create_driver(settings.storage, settings.data_dir)
        semaphore = asyncio.Semaphore(FILL_CONCURRENCY)
        rows: list[tuple[str, int]] = []

        async def put(index: int) -> None:
            hexdigest, data = _blob(index, size)
            rows.append((f"sha256:{hexdigest}", len(data)))
            async with semaphore:
                await driver.put_content(layout.blob_path(Digest("sha256", hexdigest)), data)

        started = time.perf_counter()
        for first in range(0, blobs, 5000):
            await asyncio.gather(*(put(i) for i in range(first, min(first + 5000, blobs))))
            print(f"  filled {min(first + 5000, blobs)} blobs", file=sys.stderr, flush=True)
        await conn.copy_records_to_table("blobs", records=rows, columns=["digest", "size"])
        print(f"  fill took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        await conn.close()


async def _collect() -> dict[str, Any]:
    from registry.config import load_settings
    from registry.runtime import open_backends
    from registry.services.gc import collect_garbage

    settings = load_settings()
    async with open_backends(settings, pool_size=8, for_jobs=True) as b:
        started = time.perf_counter()
        result = await collect_garbage(b, workers=5)
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "blobs_deleted": result.blobs_deleted,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_berth_gc(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--collect"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Berth's collection failed: {done.stderr[-2000:]}")
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def _moto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (workdir / "moto.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.2)
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto accepts any key; nothing is secret
    ).create_bucket(Bucket="berth-gc")
    return server, endpoint


# ------------------------------------------------------------------------------ Distribution


def _fill_distribution(root: Path, blobs: int, size: int) -> None:
    base = root / "docker" / "registry" / "v2" / "blobs" / "sha256"
    for index in range(blobs):
        hexdigest, data = _blob(index, size)
        directory = base / hexdigest[:2] / hexdigest
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").write_bytes(data)
    # A repositories directory, as a registry that has seen pushes has; none names a blob.
    (root / "docker" / "registry" / "v2" / "repositories").mkdir(parents=True, exist_ok=True)


def _run_distribution_gc(workdir: Path, blobs: int, size: int) -> dict[str, Any]:
    root = workdir / "distribution"
    _fill_distribution(root, blobs, size)
    config = workdir / "distribution.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n"
        f"  filesystem:\n    rootdirectory: {json.dumps(str(root))}\n"
        "  delete:\n    enabled: true\n"
        "http:\n  addr: 127.0.0.1:0\n"
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [DISTRIBUTION, "garbage-collect", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        assert proc.stderr is not None
        raise RuntimeError(f"garbage-collect failed: {proc.stderr.read()[-2000:]!r}")
    left = sum(1 for _ in (root / "docker" / "registry" / "v2" / "blobs").rglob("data"))
    return {
        "seconds": seconds,
        "blobs_deleted": blobs - left,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


# ------------------------------------------------------------------------------ main


def _line(name: str, outcome: dict[str, Any]) -> str:
    rate = outcome["blobs_deleted"] / outcome["seconds"] if outcome["seconds"] else 0.0
    return (
        f"{name:32s} {outcome['blobs_deleted']:>8d} blobs  {outcome['seconds']:8.1f} s  "
        f"{rate:8.0f} blobs/s  peak RSS {outcome['peak_rss_mib']:6.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, default=100_000)
    parser.add_argument("--blob-bytes", type=int, default=1024)
    parser.add_argument("--skip-s3", action="store_true", help="only the filesystem")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--collect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.collect:
        print(json.dumps(asyncio.run(_collect())))
        return 0

    from registry.embedded import EmbeddedPostgres, EmbeddedRedis

    workdir = Path(tempfile.mkdtemp(prefix="gc-bench-"))
    results: dict[str, dict[str, Any]] = {}
    postgres = EmbeddedPostgres(workdir / "pg")
    redis = EmbeddedRedis(workdir / "redis")
    moto: subprocess.Popen[bytes] | None = None
    try:
        dsn, redis_url = postgres.start(), redis.start()
        storages = {"berth, filesystem": {"BERTH_STORAGE__DRIVER": "filesystem"}}
        if not args.skip_s3:
            moto, endpoint = _moto(workdir)
            storages["berth, S3 (moto)"] = {
                "BERTH_STORAGE__DRIVER": "s3",
                "BERTH_STORAGE__S3__BUCKET": "berth-gc",
                "BERTH_STORAGE__S3__ENDPOINT_URL": endpoint,
                "BERTH_STORAGE__S3__ACCESS_KEY": "bench",
                "BERTH_STORAGE__S3__SECRET_KEY": "bench",
                "BERTH_STORAGE__S3__PATH_STYLE": "true",
            }
        for name, storage in storages.items():
            env = _berth_env(dsn, redis_url, workdir / "berth", storage)
            print(f"{name}: filling {args.blobs} blobs", file=sys.stderr, flush=True)
            asyncio.run(_fill_berth(env, args.blobs, args.blob_bytes))
            results[name] = _run_berth_gc(env)
            print(_line(name, results[name]), file=sys.stderr, flush=True)
        print(f"distribution: filling {args.blobs} blobs", file=sys.stderr, flush=True)
        results["distribution garbage-collect"] = _run_distribution_gc(
            workdir, args.blobs, args.blob_bytes
        )
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(10)
        redis.stop()
        postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"GC of {args.blobs} unreferenced blobs of {args.blob_bytes} bytes, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for name, outcome in results.items():
        print(_line(name, outcome))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
