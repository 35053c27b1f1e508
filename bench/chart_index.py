"""How long building a chart repository's index.yaml takes for many chart versions.

    python bench/chart_index.py [--versions 10000] [--charts 100]

Builds the index the way ``GET /chartrepo/<project>/index.yaml`` does on a cache miss (from
the rows PostgreSQL returns, with each version's entry written at upload), checks that the
result parses, and prints the build time.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import yaml

from registry.charts.index import entry_fragment
from registry.services.chart import build_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--charts", type=int, default=100)
    args = parser.parse_args()
    now = datetime.now(UTC)
    rows = []
    for i in range(args.versions):
        name = f"chart{i % args.charts}"
        version = f"1.{i // args.charts}.0"
        metadata = {
            "apiVersion": "v2",
            "name": name,
            "version": version,
            "appVersion": "2.0",
            "description": f"The {name} chart",
            "keywords": ["web", "demo"],
            "maintainers": [{"name": "Ops", "email": "ops@example.com"}],
        }
        fragment = entry_fragment(metadata, f"{i:064x}", now)
        rows.append(
            {"project": "library", "name": name, "version": version, "index_entry": fragment}
        )
    # As PostgreSQL returns them: by name.
    rows.sort(key=lambda r: r["name"])
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        body = build_index(rows, merged=False)
        runs.append(time.perf_counter() - started)
    index = yaml.safe_load(body)
    assert sum(len(v) for v in index["entries"].values()) == args.versions
    print(
        f"{args.versions} versions of {args.charts} charts: index of {len(body) / 1e6:.1f} MB "
        f"built in {min(runs) * 1000:.0f} ms (best of 5), {max(runs) * 1000:.0f} ms worst"
    )


if __name__ == "__main__":
    main()
