"""Event-based replication beyond pushes: a tag made or removed on its own follows to a second
``berth serve`` and to Debian's ``docker-registry`` (which cannot delete a tag in place); the
inbound notifications path set by ``notifications_path`` takes a real Distribution's events;
and a 1 GiB layer replicates between two Berths while the job worker's memory stays flat.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e._http import describe, expect, location_on, with_query
from tests.e2e._jobs import push_image, state_dir
from tests.e2e._servers import ServerProcess, start_berth
from tests.e2e._tools import Toolbox
from tests.e2e.test_memory import RssSampler
from tests.e2e.test_replication import (
    ACCEPT,
    Endpoint,
    _create,
    _image_layout,
    _push_with_skopeo,
    _registry_body,
    _start_anonymous_distribution,
    _start_notifying_distribution,
    _wait_execution,
    _wait_for,
)

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-repl-events-" + hashlib.sha256(os.urandom(8)).hexdigest()[:10]
NOTIFICATIONS_PATH = "/hooks/registry-events"
MiB = 1024 * 1024
LAYER_SIZE = 1024 * MiB
CHUNK = MiB
# Streaming is the property: a copy that buffered the layer would add ~1 GiB.
RSS_GROWTH_LIMIT = 100 * MiB


class Pair:
    def __init__(
        self,
        local: Endpoint,
        remote: Endpoint,
        distribution: Endpoint,
        servers: dict[str, ServerProcess],
    ) -> None:
        self.local = local
        self.remote = remote
        self.distribution = distribution
        self.servers = servers


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    """Two Berths (``local`` with the notifications path moved) and a Distribution that
    allows deletes."""
    servers: dict[str, ServerProcess] = {}
    with state_dir("repl-events") as root:
        try:
            servers["local"], local_host = start_berth(
                root / "local",
                password=PASSWORD,
                name="berth-events-local",
                extra_env={"BERTH_NOTIFICATIONS_PATH": NOTIFICATIONS_PATH},
            )
            servers["remote"], remote_host = start_berth(
                root / "remote", password=PASSWORD, name="berth-events-remote"
            )
            servers["distribution"], distribution_host = _start_anonymous_distribution(
                root / "distribution"
            )
            yield Pair(
                Endpoint(local_host, "admin", PASSWORD),
                Endpoint(remote_host, "admin", PASSWORD),
                Endpoint(distribution_host),
                servers,
            )
        finally:
            for server in reversed(servers.values()):
                server.stop()


def _status(client: httpx.Client, repository: str, reference: str) -> int:
    return client.head(
        f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT}
    ).status_code


def _tags(client: httpx.Client, repository: str) -> list[str]:
    return sorted(client.get(f"/v2/{repository}/tags/list").json().get("tags") or [])


def _event_policy(api: httpx.Client, name: str, registry_id: int) -> int:
    return _create(
        api,
        "/replication/policies",
        {
            "name": name,
            "dest_registry": {"id": registry_id},
            "filters": [{"type": "name", "value": "tags/**"}],
            "trigger": {"type": "event_based"},
            "replicate_deletion": True,
        },
    )


def test_tags_made_and_removed_alone_follow_to_berth_and_distribution(pair: Pair) -> None:
    local, destinations = pair.local, (pair.remote, pair.distribution)
    with local.api() as api:
        assert (
            api.post("/projects", json={"project_name": "tags", "metadata": {}}).status_code == 201
        )
        to_berth = _create(api, "/registries", _registry_body("tags-berth", pair.remote, "harbor"))
        to_dist = _create(
            api, "/registries", _registry_body("tags-dist", pair.distribution, "docker-registry")
        )
        policies = [_event_policy(api, "tags-to-berth", to_berth)]
        policies.append(_event_policy(api, "tags-to-dist", to_dist))
    with local.registry() as client:
        digest = push_image(client, "tags/app", "1.0")
        manifest = client.get("/v2/tags/app/manifests/1.0", headers={"Accept": ACCEPT})
        r = client.put(
            "/v2/tags/app/manifests/keep",
            content=manifest.content,
            headers={"Content-Type": manifest.headers["content-type"]},
        )
        assert r.status_code == 201, r.text
    for destination in destinations:
        with destination.registry() as client:
            _wait_for(
                lambda c=client: _tags(c, "tags/app") == ["1.0", "keep"],
                f"the push replicated to {destination.host}",
            )

    artifact = "/projects/tags/repositories/app/artifacts/1.0"
    with local.api() as api:
        assert api.post(f"{artifact}/tags", json={"name": "2.0"}).status_code == 201
    for destination in destinations:
        with destination.registry() as client:
            _wait_for(
                lambda c=client: _status(c, "tags/app", "2.0") == 200,
                f"the new tag replicated to {destination.host}",
            )

    # A tag removed through the API, then one through /v2/: each time the tag alone goes at
    # both destinations, the artifact and its other tags stay.
    with local.api() as api:
        assert api.delete(f"{artifact}/tags/1.0").status_code == 200
    for destination in destinations:
        with destination.registry() as client:
            _wait_for(
                lambda c=client: _tags(c, "tags/app") == ["2.0", "keep"],
                f"the tag deletion replicated to {destination.host}",
            )
    with local.registry() as client:
        assert client.delete("/v2/tags/app/manifests/keep").status_code == 202
    for destination in destinations:
        with destination.registry() as client:
            _wait_for(
                lambda c=client: _tags(c, "tags/app") == ["2.0"],
                f"the /v2/ tag deletion replicated to {destination.host}",
            )
            assert _status(client, "tags/app", digest) == 200
            pulled = client.get("/v2/tags/app/manifests/2.0", headers={"Accept": ACCEPT})
            assert hashlib.sha256(pulled.content).hexdigest() == digest.split(":")[1]
    with local.api() as api:
        for policy_id in policies:
            runs = api.get("/replication/executions", params={"policy_id": policy_id}).json()
            assert all(run["trigger"] == "event_based" for run in runs)
            newest = _wait_execution(api, runs[0]["id"])
            assert newest["status"] == "Succeed", newest
            tasks = api.get(f"/replication/executions/{newest['id']}/tasks").json()
            assert [t["operation"] for t in tasks] == ["tag deletion"]
            assert tasks[0]["dst_resource"] == "tags/app:[keep]"


def test_notifications_at_the_configured_path_mirror_a_distribution(
    pair: Pair, toolbox: Toolbox, tmp_path: Path
) -> None:
    local = pair.local
    secret = "notify-" + hashlib.sha256(os.urandom(8)).hexdigest()[:24]
    server, host = _start_notifying_distribution(
        tmp_path / "notifying", f"{local.url}{NOTIFICATIONS_PATH}", secret
    )
    try:
        upstream = Endpoint(host)
        with local.api() as api:
            body = {**_registry_body("notifying", upstream, "docker-registry")}
            body["webhook_secret"] = secret
            registry_id = _create(api, "/registries", body)
            policy_id = _create(
                api,
                "/replication/policies",
                {
                    "name": "mirror-at-custom-path",
                    "src_registry": {"id": registry_id},
                    "dest_namespace": "mirrored",
                    "filters": [{"type": "name", "value": "team/**"}],
                    "trigger": {"type": "event_based"},
                    "replicate_deletion": True,
                },
            )
        # The default path is no longer served; the configured one asks for the secret.
        default = httpx.post(
            f"{local.url}/service/notifications",
            json={"events": []},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert default.status_code in (404, 405), default.text
        for wrong in ("Bearer wrong", f"Bearer {secret[:-1]}", f"Bearer {secret}x", ""):
            refused = httpx.post(
                f"{local.url}{NOTIFICATIONS_PATH}",
                json={"events": []},
                headers={"Authorization": wrong},
            )
            assert refused.status_code == 401, (wrong, refused.text)

        image, layout = _image_layout(tmp_path / "image", "v1")
        _push_with_skopeo(toolbox, layout, "v1", upstream, "team/web:v1")
        with local.registry() as client:
            _wait_for(
                lambda: _status(client, "mirrored/web", "v1") == 200,
                "the mirror of the notified push",
                within=45,
            )
        # Distribution reports a delete by digest; the mirror follows (replicate_deletion).
        with upstream.registry() as client:
            assert client.delete(f"/v2/team/web/manifests/{image.digest}").status_code == 202
        with local.registry() as client:
            _wait_for(
                lambda: _status(client, "mirrored/web", image.digest) == 404,
                "the mirror of the notified delete",
                within=45,
            )
        with local.api() as api:
            runs = api.get("/replication/executions", params={"policy_id": policy_id}).json()
            assert len(runs) >= 2
            assert all(r["trigger"] == "event_based" for r in runs)
    finally:
        server.stop()


# --- a 1 GiB layer ------------------------------------------------------------------------------


def _layer() -> tuple[Iterator[bytes], hashlib._Hash]:
    """1 GiB generated as it is sent (each MiB stamped with its index), hashed on the way."""
    hasher = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        block = bytearray(os.urandom(CHUNK))
        for index in range(LAYER_SIZE // CHUNK):
            block[:8] = index.to_bytes(8, "big")
            chunk = bytes(block)
            hasher.update(chunk)
            yield chunk

    return chunks(), hasher


def _push_big_image(endpoint: Endpoint, repository: str, tag: str) -> str:
    """An image with one 1 GiB layer, streamed up in one PATCH; the layer's digest."""
    with endpoint.registry() as client:
        client.timeout = httpx.Timeout(600.0)
        start = expect(client.post(f"/v2/{repository}/blobs/uploads/"), 202)
        location = location_on(endpoint.url, start.headers["location"])
        chunks, hasher = _layer()
        patched = expect(
            client.patch(
                location, content=chunks, headers={"Content-Type": "application/octet-stream"}
            ),
            202,
        )
        layer = "sha256:" + hasher.hexdigest()
        expect(
            client.put(
                with_query(location_on(endpoint.url, patched.headers["location"]), digest=layer)
            ),
            201,
        )
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer]},
            }
        ).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        expect(
            client.post(
                f"/v2/{repository}/blobs/uploads/", params={"digest": config_digest}, content=config
            ),
            201,
        )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer,
                        "size": LAYER_SIZE,
                    }
                ],
            }
        ).encode()
        r = client.put(
            f"/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 201, describe(r)
    return layer


def _job_worker(server: ServerProcess) -> psutil.Process:
    """The ``berth worker`` child of a ``berth serve``: where replication tasks run."""
    for proc in psutil.Process(server.pid).children(recursive=True):
        if {"worker", "celery-worker"} & set(proc.cmdline()):
            return proc
    raise AssertionError(f"no job worker under {server.describe()}")


def _rss_tree(proc: psutil.Process) -> int:
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def test_a_one_gib_layer_replicates_with_flat_worker_memory(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    with local.api() as api:
        assert (
            api.post("/projects", json={"project_name": "big", "metadata": {}}).status_code == 201
        )
        registry_id = _create(api, "/registries", _registry_body("big-berth", remote, "harbor"))
        policy_id = _create(
            api,
            "/replication/policies",
            {
                "name": "big-on-push",
                "dest_registry": {"id": registry_id},
                "filters": [{"type": "name", "value": "big/**"}],
                "trigger": {"type": "event_based"},
            },
        )
    worker = _job_worker(pair.servers["local"])
    baseline = _rss_tree(worker)
    sampler = RssSampler(worker.pid, interval=0.1)
    sampler.start()
    started = time.monotonic()
    try:
        layer = _push_big_image(local, "big/blob", "1")
        pushed = time.monotonic()
        with remote.registry() as client:
            _wait_for(
                lambda: _status(client, "big/blob", "1") == 200,
                "the 1 GiB image at the destination",
                within=300,
            )
            head = client.head(f"/v2/big/blob/blobs/{layer}")
            assert head.status_code == 200, describe(head)
            assert head.headers["content-length"] == str(LAYER_SIZE)
    finally:
        sampler.stop()
    replicated = time.monotonic()
    with local.api() as api:
        runs = api.get("/replication/executions", params={"policy_id": policy_id}).json()
        assert [r["status"] for r in runs] == ["Succeed"], runs
    growth = sampler.peak - baseline
    report = (
        f"worker RSS {baseline / MiB:.0f} MiB before, peak {sampler.peak / MiB:.0f} MiB "
        f"(+{growth / MiB:.0f} MiB) over {sampler.samples} samples [{sampler.peak_detail}]; "
        f"push {pushed - started:.1f} s, replication {replicated - pushed:.1f} s"
    )
    print(f"\n{report}")
    assert sampler.samples > 10, report
    assert growth < RSS_GROWTH_LIMIT, report
