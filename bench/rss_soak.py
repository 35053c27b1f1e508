"""Mixed registry load for a while, sampling the resident memory of every process of a server.

Workers loop over pushes (a fresh small blob and a manifest under one of a few tags, so tags
move), pulls (manifest GET by tag, then the blob), manifest GETs and blob HEADs. Every
``--interval`` seconds the RSS of ``--pid`` and each of its descendants is read from /proc and
printed; at the end, the curve per process (first, lowest, highest, last sample, and the growth
over the second half of the run), which tells a plateau from growth without bound.

    python bench/rss_soak.py --url http://127.0.0.1:8080 --username admin \\
        --pid "$(pgrep -o -f 'registry.cli serve')" --minutes 10

``--password`` defaults to ``$REGISTRY_BENCH_PASSWORD``. Needs httpx and bench/registry_bench.py
next to this file (its client does the token dance).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import registry_bench as rb  # found through the path set just above

TAGS = 20


@dataclass
class Sample:
    seconds: float
    rss_mib: dict[str, float]
    pss_total_mib: float
    operations: int


@dataclass
class Soak:
    client: rb.RegistryClient
    image: rb.TinyImage
    operations: int = 0
    errors: int = 0
    samples: list[Sample] = field(default_factory=list)
    pushed_tags: set[str] = field(default_factory=set)

    async def push(self, lane: int) -> None:
        blob = os.urandom(random.randint(4, 256) * 1024)
        digest = await rb.push_small_blob(self.client, blob)
        tag = f"soak-{random.randrange(TAGS)}"
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": rb.MT_OCI_MANIFEST,
                "config": {
                    "mediaType": rb.MT_OCI_CONFIG,
                    "digest": self.image.config_digest,
                    "size": len(self.image.config),
                },
                "layers": [{"mediaType": rb.MT_OCI_LAYER, "digest": digest, "size": len(blob)}],
            }
        ).encode()
        response = await self.client.send(
            "PUT",
            self.client.repo_url(f"manifests/{tag}"),
            headers={"Content-Type": rb.MT_OCI_MANIFEST},
            content=manifest,
            lane=lane,
        )
        rb.expect(response, (201,), f"PUT manifest {tag}")
        self.pushed_tags.add(tag)

    async def manifest(self, lane: int, method: str = "GET") -> httpx.Response:
        tag = random.choice(sorted(self.pushed_tags))
        response = await self.client.send(
            method,
            self.client.repo_url(f"manifests/{tag}"),
            headers={"Accept": rb.MANIFEST_ACCEPT},
            lane=lane,
        )
        rb.expect(response, (200,), f"{method} manifest {tag}")
        return response

    async def pull(self, lane: int) -> None:
        doc = json.loads((await self.manifest(lane)).content)
        layer = doc["layers"][0]
        response = await self.client.send(
            "GET",
            self.client.repo_url(f"blobs/{layer['digest']}"),
            follow_redirects=True,
            lane=lane,
        )
        rb.expect(response, (200,), "GET blob")

    async def head(self, lane: int) -> None:
        response = await self.client.send(
            "HEAD", self.client.repo_url(f"blobs/{self.image.config_digest}"), lane=lane
        )
        rb.expect(response, (200,), "HEAD blob")

    async def worker(self, lane: int, until: float) -> None:
        while time.monotonic() < until:
            roll = random.random()
            try:
                if roll < 0.15:
                    await self.push(lane)
                elif roll < 0.35:
                    await self.pull(lane)
                elif roll < 0.75:
                    await self.manifest(lane)
                else:
                    await self.head(lane)
                self.operations += 1
            except (rb.BenchError, httpx.HTTPError) as exc:
                self.errors += 1
                if self.errors <= 5:
                    rb.log(f"error: {exc}")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from the parent ids in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def process_name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return f"?[{pid}]"
    if words[0].startswith("postgres"):
        return f"postgres[{pid}]"
    if words[0].split()[0].endswith("redis-server"):
        return f"redis[{pid}]"
    if "registry.cli" in words:
        after = words.index("registry.cli") + 1
        return f"{words[after] if after < len(words) else 'berth'}[{pid}]"
    return f"{Path(words[0]).name}[{pid}]"


def memory_mib(pid: int) -> tuple[float, float] | None:
    """(RSS, PSS): PSS shares out pages several processes map (PostgreSQL's shared buffers),
    so it can be summed where RSS cannot."""
    rss = pss = None
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        return None
    return None if rss is None or pss is None else (rss, pss)


def sample(root: int) -> tuple[dict[str, float], float]:
    """RSS per process, and the PSS of them all."""
    out, pss_total = {}, 0.0
    for pid in descendants(root):
        value = memory_mib(pid)
        if value is not None:
            out[process_name(pid)] = value[0]
            pss_total += value[1]
    return out, pss_total


async def sampler(soak: Soak, root: int, interval: float, until: float, start: float) -> None:
    while True:
        rss, pss = sample(root)
        soak.samples.append(Sample(time.monotonic() - start, rss, pss, soak.operations))
        serve = {k: v for k, v in rss.items() if not k.startswith("postgres")}
        rb.log(
            f"t={soak.samples[-1].seconds:6.0f}s ops={soak.operations:7d} "
            f"errors={soak.errors} PSS of all={pss:7.1f} MiB  RSS: "
            + "  ".join(f"{k}={v:.1f}" for k, v in sorted(serve.items()))
        )
        if time.monotonic() >= until:
            return
        await asyncio.sleep(min(interval, max(until - time.monotonic(), 0.1)))


def summary(samples: list[Sample]) -> str:
    names = sorted({name for s in samples for name in s.rss_mib})
    half = samples[len(samples) // 2]
    lines = [
        f"{'process':24} {'first':>8} {'min':>8} {'max':>8} {'last':>8} {'2nd half':>9}  MiB",
    ]
    for name in names:
        values = [s.rss_mib[name] for s in samples if name in s.rss_mib]
        mid = half.rss_mib.get(name, values[0])
        lines.append(
            f"{name:24} {values[0]:8.1f} {min(values):8.1f} {max(values):8.1f} "
            f"{values[-1]:8.1f} {values[-1] - mid:+9.1f}"
        )
    pss = [s.pss_total_mib for s in samples]
    lines.append(
        f"{'PSS of all':24} {pss[0]:8.1f} {min(pss):8.1f} {max(pss):8.1f} "
        f"{pss[-1]:8.1f} {pss[-1] - half.pss_total_mib:+9.1f}"
    )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    password = args.password or os.environ.get("REGISTRY_BENCH_PASSWORD")
    creds = rb.Credentials(args.username, password) if args.username and password else None
    repo = f"{args.repo_prefix}-{os.urandom(4).hex()}"
    client = rb.RegistryClient(args.url, repo, creds, timeout=60, verify_tls=True)
    soak = Soak(client, rb.make_tiny_image(repo))
    try:
        await rb.push_small_blob(client, soak.image.config)
        await soak.push(0)
        start = time.monotonic()
        until = start + args.minutes * 60
        await asyncio.gather(
            sampler(soak, args.pid, args.interval, until, start),
            *(soak.worker(lane, until) for lane in range(args.concurrency)),
        )
    finally:
        await client.aclose()
    rb.log(f"{soak.operations} operations, {soak.errors} errors, repository {repo}")
    print(summary(soak.samples))
    return 0 if soak.errors == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--pid", type=int, required=True, help="the `berth serve` process")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repo-prefix", default="library/soak")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
