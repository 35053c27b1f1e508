#!/usr/bin/env python3
"""Replication and proxy-cache benchmark: Berth against ``skopeo`` over the same registries.

Starts everything it measures on 127.0.0.1 and removes it afterwards: a source ``berth serve``,
a destination ``berth serve`` and a Debian ``docker-registry`` (the proxy cache's upstream).

1. many small images: ``--small-images`` one-layer images (``--small-kib`` each) replicated
   source -> destination by a manual Berth push policy, then the same images by
   ``skopeo sync`` (a YAML source listing every image) into another namespace of the same
   destination;
2. one big image: one image with a ``--big-mib`` layer, both ways again;
3. proxy cache: an image of ``--proxy-layers`` layers of ``--proxy-mib`` MiB in the upstream,
   pulled by ``skopeo copy`` from the upstream directly, then through a Berth proxy-cache
   project cold (nothing cached), then warm (once Berth has cached it).

Needs Berth installed (it runs ``python -m registry.cli serve``), ``skopeo`` and
``/usr/bin/docker-registry``. bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

MIB = 1024 * 1024
CHUNK = MIB
READY_SECONDS = 180.0
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DISTRIBUTION_BINARY = "/usr/bin/docker-registry"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    host: str

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(server: Server, log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/v2/", timeout=2).status_code in (200, 401):
                return
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} not ready within {READY_SECONDS:.0f} s; see {log_path}")


def start_berth(root: Path, name: str, password: str, concurrency: int | None) -> Server:
    data = root / name
    data.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env["BERTH_ADMIN_PASSWORD"] = password
    if concurrency is not None:
        env["BERTH_WORKER_CONCURRENCY"] = str(concurrency)
    log_path = root / f"{name}.log"
    command = [sys.executable, "-m", "registry.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--data-dir", str(data)]
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, f"127.0.0.1:{port}")
    _wait_ready(server, log_path)
    return server


def start_distribution(root: Path, name: str) -> Server:
    work = root / name
    work.mkdir(parents=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    (work / "config.yml").write_text(json.dumps(config))
    log_path = root / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [DISTRIBUTION_BINARY, "serve", str(work / "config.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, f"127.0.0.1:{port}")
    _wait_ready(server, log_path)
    return server


# --- content ------------------------------------------------------------------------------------


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def generated(size: int, seed: bytes, hasher: Any) -> Iterator[bytes]:
    """``size`` pseudo-random bytes in 1 MiB chunks, each stamped with its index, hashed as
    they go: never held whole."""
    block = bytearray(hashlib.shake_256(seed).digest(CHUNK))
    sent = 0
    index = 0
    while sent < size:
        block[:8] = index.to_bytes(8, "big")
        chunk = bytes(block[: min(CHUNK, size - sent)])
        hasher.update(chunk)
        yield chunk
        sent += len(chunk)
        index += 1


async def _agenerated(size: int, seed: bytes, hasher: Any) -> AsyncIterator[bytes]:
    for chunk in generated(size, seed, hasher):
        yield chunk


def image_manifest(config: bytes, layers: list[tuple[str, int]]) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    return json.dumps(body).encode()


def image_config(layers: list[str]) -> bytes:
    rootfs = {"type": "layers", "diff_ids": layers}
    return json.dumps({"architecture": "amd64", "os": "linux", "rootfs": rootfs}).encode()


async def push_small_blob(client: httpx.AsyncClient, repository: str, data: bytes) -> None:
    started = await client.post(f"/v2/{repository}/blobs/uploads/")
    started.raise_for_status()
    location = started.headers["location"]
    separator = "&" if "?" in location else "?"
    done = await client.put(f"{location}{separator}digest={digest_of(data)}", content=data)
    if done.status_code != 201:
        raise RuntimeError(f"blob push to {repository}: {done.status_code} {done.text[:200]}")


async def push_streamed_blob(
    client: httpx.AsyncClient, repository: str, size: int, seed: bytes
) -> str:
    started = await client.post(f"/v2/{repository}/blobs/uploads/")
    started.raise_for_status()
    hasher = hashlib.sha256()
    patched = await client.patch(
        started.headers["location"],
        content=_agenerated(size, seed, hasher),
        headers={"Content-Type": "application/octet-stream"},
    )
    patched.raise_for_status()
    digest = "sha256:" + hasher.hexdigest()
    location = patched.headers["location"]
    separator = "&" if "?" in location else "?"
    done = await client.put(f"{location}{separator}digest={digest}")
    if done.status_code != 201:
        raise RuntimeError(f"blob push to {repository}: {done.status_code} {done.text[:200]}")
    return digest


async def push_manifest(
    client: httpx.AsyncClient, repository: str, tag: str, manifest: bytes
) -> None:
    r = await client.put(
        f"/v2/{repository}/manifests/{tag}",
        content=manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    if r.status_code != 201:
        raise RuntimeError(f"manifest push to {repository}: {r.status_code} {r.text[:200]}")


async def push_image(
    client: httpx.AsyncClient, repository: str, tag: str, layer_sizes: list[int], seed: str
) -> None:
    layers = []
    for i, size in enumerate(layer_sizes):
        unique = f"{seed}/{repository}/{i}".encode()
        if size <= 4 * MIB:
            data = b"".join(generated(size, unique, hashlib.sha256()))
            await push_small_blob(client, repository, data)
            layers.append((digest_of(data), size))
        else:
            layers.append((await push_streamed_blob(client, repository, size, unique), size))
    config = image_config([d for d, _ in layers])
    await push_small_blob(client, repository, config)
    await push_manifest(client, repository, tag, image_manifest(config, layers))


async def push_many(
    server: Server, auth: tuple[str, str] | None, images: list[tuple[str, list[int]]], seed: str
) -> None:
    limits = asyncio.Semaphore(8)
    async with httpx.AsyncClient(
        base_url=server.url, auth=auth, timeout=600, trust_env=False
    ) as client:

        async def one(repository: str, sizes: list[int]) -> None:
            async with limits:
                await push_image(client, repository, "v1", sizes, seed)

        await asyncio.gather(*(one(repository, sizes) for repository, sizes in images))


# --- the Berth API ------------------------------------------------------------------------------


class Api:
    def __init__(self, server: Server, password: str) -> None:
        self.http = httpx.Client(
            base_url=f"{server.url}/api/v2.0", auth=("admin", password), timeout=60, trust_env=False
        )

    def create(self, path: str, body: dict[str, Any]) -> int:
        r = self.http.post(path, json=body)
        if r.status_code != 201:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
        return int(r.headers["location"].rsplit("/", 1)[1])

    def project(self, name: str, **extra: Any) -> None:
        self.create("/projects", {"project_name": name, "metadata": {}, **extra})

    def registry(self, name: str, kind: str, server: Server, password: str | None) -> int:
        credential = {"type": "basic", "access_key": "admin", "access_secret": password or ""}
        body: dict[str, Any] = {"name": name, "type": kind, "url": server.url, "insecure": False}
        if password is not None:
            body["credential"] = credential
        return self.create("/registries", body)

    def replicate(self, name: str, registry_id: int, source: str, namespace: str) -> float:
        """Run a manual push policy of the repositories under ``source/``; its seconds."""
        policy = self.create(
            "/replication/policies",
            {
                "name": name,
                "dest_registry": {"id": registry_id},
                "dest_namespace": namespace,
                "filters": [{"type": "name", "value": f"{source}/**"}],
                "trigger": {"type": "manual"},
            },
        )
        started = time.monotonic()
        execution = self.create("/replication/executions", {"policy_id": policy})
        while True:
            body = self.http.get(f"/replication/executions/{execution}").json()
            if body["status"] != "InProgress":
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        if body["status"] != "Succeed":
            raise RuntimeError(f"execution {execution} of {name}: {body}")
        log(f"{name}: {body['succeed']} tasks in {seconds:.1f} s")
        return seconds

    def artifact_cached(self, project: str, repository: str, tag: str) -> bool:
        escaped = repository.replace("/", "%252F")
        path = f"/projects/{project}/repositories/{escaped}/artifacts/{tag}"
        return self.http.get(path).status_code == 200


# --- skopeo -------------------------------------------------------------------------------------


def skopeo(arguments: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(["skopeo", *arguments], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"skopeo {arguments[0]} failed: {done.stderr[-2000:]}")
    return seconds


def skopeo_sync(
    work: Path, source: Server, destination: Server, password: str, repositories: list[str], to: str
) -> float:
    listing = {
        source.host: {
            "tls-verify": False,
            "credentials": {"username": "admin", "password": password},
            "images": {repository: ["v1"] for repository in repositories},
        }
    }
    path = work / f"sync-{to}.yaml"
    path.write_text(json.dumps(listing))
    creds = f"admin:{password}"
    seconds = skopeo(
        [
            *("sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false"),
            *("--dest-creds", creds, str(path), f"{destination.host}/{to}"),
        ]
    )
    log(f"skopeo sync {len(repositories)} images: {seconds:.1f} s")
    return seconds


def skopeo_pull(work: Path, reference: str, creds: str | None) -> float:
    target = work / f"pull-{secrets.token_hex(4)}"
    arguments = ["copy", "--src-tls-verify=false"]
    if creds:
        arguments += ["--src-creds", creds]
    seconds = skopeo([*arguments, f"docker://{reference}", f"oci:{target}:pulled"])
    shutil.rmtree(target, ignore_errors=True)
    return seconds


# --- the benchmark ------------------------------------------------------------------------------


def rate(megabytes: float, seconds: float) -> str:
    return f"{megabytes / seconds:.2f} MiB/s" if seconds > 0 else "-"


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    password = "Bench-" + secrets.token_hex(8)
    seed = secrets.token_hex(4)
    servers: list[Server] = []
    results: dict[str, Any] = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    try:
        log("starting the source and destination Berths and a docker-registry")
        source = start_berth(root, "berth-source", password, args.worker_concurrency)
        servers.append(source)
        destination = start_berth(root, "berth-destination", password, args.worker_concurrency)
        servers.append(destination)
        upstream = start_distribution(root, "upstream")
        servers.append(upstream)
        source_api, destination_api = Api(source, password), Api(destination, password)
        for project in ("small", "big"):
            source_api.project(project)
        for project in ("skopeo-small", "skopeo-big"):
            destination_api.project(project)
        to_destination = source_api.registry("destination", "harbor", destination, password)
        auth = ("admin", password)

        small = [(f"small/app-{i:04d}", [args.small_kib * 1024]) for i in range(args.small_images)]
        log(f"pushing {len(small)} small images into the source")
        asyncio.run(push_many(source, auth, small, seed))
        small_mib = len(small) * args.small_kib / 1024
        berth_small = source_api.replicate("small", to_destination, "small", "berth-small")
        skopeo_small = skopeo_sync(
            root, source, destination, password, [r for r, _ in small], "skopeo-small"
        )
        results["small_images"] = {
            "images": len(small),
            "layer_kib": args.small_kib,
            "berth_seconds": berth_small,
            "skopeo_sync_seconds": skopeo_small,
        }

        log(f"pushing one image with a {args.big_mib} MiB layer into the source")
        asyncio.run(push_many(source, auth, [("big/blob", [args.big_mib * MIB])], seed))
        berth_big = source_api.replicate("big", to_destination, "big", "berth-big")
        skopeo_big = skopeo_sync(root, source, destination, password, ["big/blob"], "skopeo-big")
        results["big_image"] = {
            "layer_mib": args.big_mib,
            "berth_seconds": berth_big,
            "skopeo_sync_seconds": skopeo_big,
        }

        log(f"pushing {args.proxy_layers} x {args.proxy_mib} MiB layers into the upstream")
        sizes = [args.proxy_mib * MIB] * args.proxy_layers
        asyncio.run(push_many(upstream, None, [("lib/app", sizes)], seed))
        to_upstream = source_api.registry("upstream", "docker-registry", upstream, None)
        source_api.project("cache", registry_id=to_upstream)
        creds = f"admin:{password}"
        direct = skopeo_pull(root, f"{upstream.host}/lib/app:v1", None)
        cold = skopeo_pull(root, f"{source.host}/cache/lib/app:v1", creds)
        deadline = time.monotonic() + 120
        while not source_api.artifact_cached("cache", "lib/app", "v1"):
            if time.monotonic() > deadline:
                raise RuntimeError("the proxy cache did not store the image within 120 s")
            time.sleep(0.5)
        warm = skopeo_pull(root, f"{source.host}/cache/lib/app:v1", creds)
        results["proxy_cache"] = {
            "image_mib": args.proxy_mib * args.proxy_layers,
            "upstream_direct_seconds": direct,
            "cold_seconds": cold,
            "warm_seconds": warm,
        }

        print()
        print(f"load average at start {results['load_average']}, {results['cpus']} cpus")
        print(f"{'figure':<44} {'Berth':>12} {'reference':>12}  ratio")
        print(
            f"{f'{len(small)} small images ({args.small_kib} KiB layer) vs skopeo sync':<44} "
            f"{berth_small:>10.1f} s {skopeo_small:>10.1f} s  {skopeo_small / berth_small:.2f}x"
        )
        print(
            f"{'  as images/s':<44} {len(small) / berth_small:>10.1f}/s "
            f"{len(small) / skopeo_small:>10.1f}/s"
        )
        print(
            f"{'  as MiB/s of layers':<44} {rate(small_mib, berth_small):>12} "
            f"{rate(small_mib, skopeo_small):>12}"
        )
        print(
            f"{f'1 image, {args.big_mib} MiB layer vs skopeo sync':<44} "
            f"{berth_big:>10.1f} s {skopeo_big:>10.1f} s  {skopeo_big / berth_big:.2f}x"
        )
        print(
            f"{'  as MiB/s':<44} {rate(args.big_mib, berth_big):>12} "
            f"{rate(args.big_mib, skopeo_big):>12}"
        )
        image_mib = args.proxy_mib * args.proxy_layers
        print(
            f"{f'proxy cache cold pull ({image_mib} MiB) vs upstream':<44} "
            f"{cold:>10.1f} s {direct:>10.1f} s  {direct / cold:.2f}x"
        )
        print(
            f"{'proxy cache warm pull vs upstream':<44} {warm:>10.1f} s {direct:>10.1f} s  "
            f"{direct / warm:.2f}x"
        )
        print("(ratio: reference seconds / Berth seconds; above 1 means Berth was faster)")
        return results
    finally:
        for server in reversed(servers):
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-images", type=int, default=200)
    parser.add_argument("--small-kib", type=int, default=64, help="layer size of each small image")
    parser.add_argument("--big-mib", type=int, default=1024, help="layer size of the big image")
    parser.add_argument("--proxy-mib", type=int, default=64, help="size of each proxied layer")
    parser.add_argument("--proxy-layers", type=int, default=3)
    parser.add_argument(
        "--worker-concurrency", type=int, help="jobs each Berth's worker runs at once"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data and logs")
    args = parser.parse_args(argv)
    for tool in ("skopeo", DISTRIBUTION_BINARY):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is needed")
    root = Path(tempfile.mkdtemp(prefix="berth-replication-bench-"))
    try:
        results = run(args, root)
    except RuntimeError as exc:
        log(f"failed: {exc} (logs in {root})")
        args.keep = True
        return 1
    finally:
        if args.keep:
            log(f"data and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
