"""Garbage collection run by a real Celery worker: what it frees, what it must never touch."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from typing import Any

import httpx

from tests.integration.api.conftest import (
    ADMIN_PASSWORD,
    GC_GRACE_SECONDS,
    Berth,
    wait_for_job,
)
from tests.integration.api.oci import digest_of

STORAGE_DRIVERS = ("filesystem", "s3")

Worker = subprocess.Popen[bytes]


def api(berth: Berth) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{berth.url}/api/v2.0", auth=("admin", ADMIN_PASSWORD))


async def run_gc(berth: Berth, **parameters: Any) -> dict[str, Any]:
    async with api(berth) as a:
        r = await a.post(
            "/system/gc/schedule", json={"schedule": {"type": "Manual"}, "parameters": parameters}
        )
        assert r.status_code == 201, r.text
        path = "/api/v2.0" + r.headers["Location"].removeprefix("/api/v2.0")
    return await wait_for_job(berth, path, within=120)


async def stored_blob_bytes(berth: Berth) -> int:
    backends = berth.app.state.backends
    total = 0
    async for info in backends.storage.walk("/blobs"):
        total += info.size
    return total


async def push_big_image(c: httpx.AsyncClient, repo: str, tag: str, size: int) -> tuple[str, int]:
    """An image whose one layer is ``size`` random bytes; returns (digest, layer size)."""
    import json

    from tests.integration.api.oci import OCI_MANIFEST, descriptor, push_blob

    layer = os.urandom(size)
    config = json.dumps({"architecture": "amd64", "os": "linux", "ref": f"{repo}:{tag}"}).encode()
    await push_blob(c, repo, config)
    await push_blob(c, repo, layer)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }
    ).encode()
    r = await c.put(
        f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"], size + len(config)


async def test_gc_frees_deleted_layers_and_keeps_the_rest(berth: Berth, job_worker: Worker) -> None:
    async with berth.client() as c:
        kept, _ = await push_big_image(c, "library/keep", "v1", 300_000)
        gone, gone_bytes = await push_big_image(c, "library/gone", "v1", 500_000)
        assert (await c.delete(f"/v2/library/gone/manifests/{gone}")).status_code == 202
    before = await stored_blob_bytes(berth)
    await asyncio.sleep(GC_GRACE_SECONDS + 1)

    dry = await run_gc(berth, dry_run=True)
    assert dry["job_status"] == "Success"
    assert dry["result"]["bytes_freed"] == gone_bytes
    assert await stored_blob_bytes(berth) == before  # a dry run deletes nothing

    done = await run_gc(berth)
    assert done["job_status"] == "Success", done
    assert done["result"]["blobs_deleted"] == 2
    assert done["result"]["bytes_freed"] == gone_bytes
    assert await stored_blob_bytes(berth) == before - gone_bytes
    async with api(berth) as a:
        log = (await a.get(f"/system/gc/{done['id']}/log")).text
        assert f"freed {gone_bytes} bytes" in log
    async with berth.client() as c:
        r = await c.get("/v2/library/keep/manifests/v1")
        assert r.headers["Docker-Content-Digest"] == kept
        manifest = r.json()
        for descriptor in [manifest["config"], *manifest["layers"]]:
            blob = await c.get(f"/v2/library/keep/blobs/{descriptor['digest']}")
            assert digest_of(blob.content) == descriptor["digest"]
    # Running it again finds nothing more: an interrupted run can simply be repeated.
    again = await run_gc(berth)
    assert again["result"]["blobs_deleted"] == 0


async def test_gc_spares_recent_uploads_and_deletes_untagged(
    berth: Berth, job_worker: Worker
) -> None:
    async with berth.client() as c:
        untagged, _ = await push_big_image(c, "library/untag", "v1", 100_000)
        # Moving the tag away leaves the first artifact untagged.
        await push_big_image(c, "library/untag", "v1", 100_001)
        await asyncio.sleep(GC_GRACE_SECONDS + 1)
        # A layer uploaded just now, for a manifest not pushed yet, must survive.
        fresh = os.urandom(10_000)
        r = await c.post(
            "/v2/library/untag/blobs/uploads/", params={"digest": digest_of(fresh)}, content=fresh
        )
        assert r.status_code == 201
    done = await run_gc(berth, delete_untagged=True)
    assert done["result"]["artifacts_deleted"] == 1
    async with berth.client() as c:
        assert (await c.get(f"/v2/library/untag/manifests/{untagged}")).status_code == 404
        assert (await c.get(f"/v2/library/untag/blobs/{digest_of(fresh)}")).content == fresh
        assert (await c.get("/v2/library/untag/manifests/v1")).status_code == 200


async def test_pushes_and_pulls_survive_repeated_gc(berth: Berth, job_worker: Worker) -> None:
    """Clients push continuously (and delete some) while garbage collection runs again and
    again; afterwards every image that was not deleted pulls in full."""
    pushed: dict[str, str] = {}
    stop = asyncio.Event()

    async def client_loop(n: int) -> None:
        async with berth.client() as c:
            i = 0
            while not stop.is_set() and i < 40:
                repo, tag = f"library/busy{n}", f"t{i}"
                digest, _ = await push_big_image(c, repo, tag, 20_000 + i)
                pushed[f"{repo}:{tag}"] = digest
                if i % 3 == 0:
                    await c.delete(f"/v2/{repo}/manifests/{digest}")
                    del pushed[f"{repo}:{tag}"]
                i += 1

    async def gc_loop() -> None:
        runs = 0
        deadline = time.monotonic() + 40
        while not stop.is_set() and time.monotonic() < deadline:
            result = await run_gc(berth)
            assert result["job_status"] == "Success", result
            runs += 1
        assert runs >= 2

    clients = [asyncio.create_task(client_loop(n)) for n in range(3)]
    collector = asyncio.create_task(gc_loop())
    await asyncio.gather(*clients)
    stop.set()
    await collector
    # Past the grace period, collect once more, then check everything still pulls.
    await asyncio.sleep(GC_GRACE_SECONDS + 1)
    await run_gc(berth)
    async with berth.client() as c:
        for ref, digest in pushed.items():
            repo, tag = ref.split(":")
            r = await c.get(f"/v2/{repo}/manifests/{tag}")
            assert r.status_code == 200, ref
            assert r.headers["Docker-Content-Digest"] == digest
            manifest = r.json()
            for descriptor in [manifest["config"], *manifest["layers"]]:
                blob = await c.get(f"/v2/{repo}/blobs/{descriptor['digest']}")
                assert blob.status_code == 200, (ref, descriptor["digest"])
                assert digest_of(blob.content) == descriptor["digest"]


async def test_gc_schedule_and_stop(berth: Berth, job_worker: Worker) -> None:
    async with api(berth) as a:
        r = await a.put(
            "/system/gc/schedule",
            json={
                "schedule": {"type": "Custom", "cron": "0 0 3 * * *"},
                "parameters": {"delete_untagged": True},
            },
        )
        assert r.status_code == 200, r.text
        schedule = (await a.get("/system/gc/schedule")).json()
        assert schedule["schedule"]["type"] == "Custom"
        assert schedule["schedule"]["cron"] == "0 0 3 * * *"
        assert schedule["schedule"]["next_scheduled_time"].endswith("T03:00:00Z")
        assert schedule["parameters"]["delete_untagged"] is True
        r = await a.put("/system/gc/schedule", json={"schedule": {"type": "Custom", "cron": "bad"}})
        assert r.status_code == 400
        r = await a.put("/system/gc/schedule", json={"schedule": {"type": "None"}})
        assert (await a.get("/system/gc/schedule")).json()["schedule"]["type"] == "None"
        history = (await a.get("/system/gc")).json()
        assert isinstance(history, list)


async def test_scheduled_jobs_fire(berth: Berth, job_worker: Worker) -> None:
    from registry.jobs.scheduler import fire_due

    backends = berth.app.state.backends
    async with api(berth) as a:
        await a.put(
            "/system/purgeaudit/schedule",
            json={
                "schedule": {"type": "Custom", "cron": "* * * * * *"},
                "parameters": {"audit_retention_hour": 1, "dry_run": True},
            },
        )
    await asyncio.sleep(1.1)
    fired = await fire_due(backends)
    assert len(fired) == 1
    assert await fire_due(backends) == []  # the schedule moved on; it fires once per tick
    body = await wait_for_job(berth, f"/api/v2.0/system/purgeaudit/{fired[0]}")
    assert body["job_status"] == "Success"
    assert body["job_kind"] == "SCHEDULE"


async def test_gc_over_100k_blobs_stays_in_bounded_memory(berth: Berth) -> None:
    """Candidates are read in pages: a dry run over 100,000 collectable blobs keeps Python's
    allocations small (the blobs here are rows only; no bytes are needed for a dry run)."""
    import tracemalloc

    from registry.services.gc import collect_garbage

    backends = berth.app.state.backends
    await backends.db.execute(
        """
        INSERT INTO blobs (digest, size, created_at)
        SELECT 'sha256:' || encode(sha256(i::text::bytea), 'hex'), 1000, now() - interval '1 day'
        FROM generate_series(1, 100000) AS i
        """
    )
    tracemalloc.start()
    try:
        result = await collect_garbage(backends, dry_run=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.blobs_deleted == 100_000
    assert result.bytes_freed == 100_000_000
    assert peak < 20 * 1024 * 1024, f"peak {peak} bytes"


async def test_audit_purge_deletes_old_records_of_chosen_operations(
    berth: Berth, job_worker: Worker
) -> None:
    backends = berth.app.state.backends
    await backends.db.execute(
        """
        INSERT INTO audit_logs (operation, resource_type, resource, username, op_time)
        VALUES ('pull', 'artifact', 'library/a:1', 'x', now() - interval '3 days'),
               ('pull', 'artifact', 'library/a:2', 'x', now() - interval '3 days'),
               ('create', 'artifact', 'library/a:1', 'x', now() - interval '3 days'),
               ('pull', 'artifact', 'library/a:3', 'x', now())
        """
    )
    async with api(berth) as a:
        r = await a.post(
            "/system/purgeaudit/schedule",
            json={
                "schedule": {"type": "Manual"},
                "parameters": {"audit_retention_hour": 24, "include_operations": "pull"},
            },
        )
        assert r.status_code == 201, r.text
        body = await wait_for_job(
            berth, "/api/v2.0" + r.headers["Location"].removeprefix("/api/v2.0")
        )
        assert body["job_status"] == "Success"
        assert body["result"]["purged"] == 2
    left = await backends.db.fetch(
        "SELECT operation, resource FROM audit_logs WHERE username = 'x'"
    )
    assert sorted((r["operation"], r["resource"]) for r in left) == [
        ("create", "library/a:1"),
        ("pull", "library/a:3"),
    ]
