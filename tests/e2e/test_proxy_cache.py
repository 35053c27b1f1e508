"""Proxy-cache projects against a real upstream (Debian's ``docker-registry``) with a
``berth serve`` that is also a registry mirror of it: the tags list is the union of the cached
and the upstream tags; podman pulls the upstream's own names through Berth as a
``registries.conf`` mirror, also once the upstream is stopped; a proxy project gets Harbor's
"7 days since last pull" retention; and the first pull from upstream meets the project's pull
policies (vulnerability prevention, content trust) as a pull from the cache does."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e._jobs import state_dir
from tests.e2e._oci import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    descriptor,
    sha256,
    to_json,
    write_layout,
)
from tests.e2e._servers import DISTRIBUTION_READY_TIMEOUT, ServerProcess, start_berth
from tests.e2e._tools import Toolbox
from tests.e2e.test_replication import (
    ACCEPT,
    PASSWORD,
    Endpoint,
    _create,
    _image_layout,
    _push_with_skopeo,
    _registry_body,
    _start_anonymous_distribution,
    _wait_for,
)

pytestmark = pytest.mark.e2e

# podman has no systemd to talk to here.
PODMAN_GLOBALS = ["--cgroup-manager", "cgroupfs", "--events-backend", "file"]
MIRROR_PROJECT = "mirror"


@dataclass
class Upstream:
    server: ServerProcess
    endpoint: Endpoint

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()
        self.server.wait_ready(self.endpoint.url, DISTRIBUTION_READY_TIMEOUT)


@dataclass
class Setup:
    berth: Endpoint
    upstream: Upstream
    registry_id: int


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    """An upstream Distribution, and a Berth mirroring it through the public proxy project
    ``mirror``."""
    with state_dir("proxy-cache") as root:
        server, upstream_host = _start_anonymous_distribution(root / "upstream")
        upstream = Upstream(server, Endpoint(upstream_host))
        try:
            berth_server, berth_host = start_berth(
                root / "berth",
                password=PASSWORD,
                name="berth-proxy",
                # Two HTTP processes whatever the machine: the blobs of one pull land on both.
                extra_env={
                    "BERTH_PROXY_MIRRORS": json.dumps({upstream_host: MIRROR_PROJECT}),
                    "BERTH_WORKERS": "2",
                },
            )
            try:
                berth = Endpoint(berth_host, "admin", PASSWORD)
                with berth.api() as api:
                    registry_id = _create(
                        api,
                        "/registries",
                        _registry_body("upstream", upstream.endpoint, "docker-registry"),
                    )
                    _proxy_project(api, MIRROR_PROJECT, registry_id, {"public": "true"})
                yield Setup(berth, upstream, registry_id)
            finally:
                berth_server.stop()
        finally:
            server.stop()


def _proxy_project(
    api: httpx.Client, name: str, registry_id: int, metadata: dict[str, str]
) -> None:
    r = api.post(
        "/projects", json={"project_name": name, "registry_id": registry_id, "metadata": metadata}
    )
    assert r.status_code == 201, r.text


def _push_upstream(toolbox: Toolbox, upstream: Upstream, target: str, layers: int = 1) -> str:
    """Push a new image to upstream as ``target`` (``repo:tag``); its digest."""
    layout = toolbox.root / ("layout-" + target.replace("/", "-").replace(":", "-"))
    image, _ = _image_layout(layout, "x", layers=layers)
    _push_with_skopeo(toolbox, layout, "x", upstream.endpoint, target)
    return image.digest


def _tags(client: httpx.Client, repository: str) -> list[str]:
    r = client.get(f"/v2/{repository}/tags/list")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == repository
    tags: list[str] = r.json()["tags"]
    return tags


def test_tags_are_the_cached_and_the_upstream_ones_and_retention_comes_by_default(
    setup: Setup, toolbox: Toolbox
) -> None:
    upstream, berth = setup.upstream, setup.berth
    _push_upstream(toolbox, upstream, "lib/tagged:1")
    _push_upstream(toolbox, upstream, "lib/tagged:2", layers=2)
    with berth.api() as api:
        _proxy_project(api, "tagcache", setup.registry_id, {})
        project = api.get("/projects/tagcache").json()
        retention_id = project["metadata"]["retention_id"]
        policy = api.get(f"/retentions/{retention_id}").json()
        (rule,) = policy["rules"]
        assert rule["template"] == "nDaysSinceLastPull"
        assert rule["params"] == {"nDaysSinceLastPull": 7}
        assert rule["tag_selectors"][0]["pattern"] == "**"
        assert policy["scope"] == {"level": "project", "ref": project["project_id"]}
        assert policy["trigger"]["settings"]["cron"]
    with berth.registry() as client:
        # Nothing cached yet: upstream's tags.
        assert _tags(client, "tagcache/lib/tagged") == ["1", "2"]
        r = client.get("/v2/tagcache/lib/tagged/manifests/1", headers={"Accept": ACCEPT})
        assert r.status_code == 200, r.text
    with berth.api() as api:
        artifact = "/projects/tagcache/repositories/lib%252Ftagged/artifacts/1"
        _wait_for(lambda: api.get(artifact).status_code == 200, "the cached artifact")
    _push_upstream(toolbox, upstream, "lib/tagged:3", layers=3)
    with berth.registry() as client:
        assert _tags(client, "tagcache/lib/tagged") == ["1", "2", "3"]
        r = client.get("/v2/tagcache/lib/tagged/tags/list", params={"n": 2})
        assert r.json()["tags"] == ["1", "2"]
        assert 'rel="next"' in r.headers["Link"]
    upstream.stop()
    try:
        with berth.registry() as client:
            # Upstream down: what the cache holds.
            assert _tags(client, "tagcache/lib/tagged") == ["1"]
            r = client.get("/v2/tagcache/lib/never/tags/list")
            assert r.status_code == 404, r.text
    finally:
        upstream.start()


def _big_image(layout: Path, layer_mib: int, layers: int) -> list[str]:
    """An OCI layout of an image with ``layers`` random layers of ``layer_mib`` MiB; the
    digests of its config and layers."""
    blobs = [os.urandom(layer_mib * 1024 * 1024) for _ in range(layers)]
    config = to_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    manifest = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER_GZIP, blob) for blob in blobs],
        }
    )
    everything = {sha256(blob): blob for blob in [config, *blobs]}
    write_layout(layout, everything | {sha256(manifest): manifest}, manifest, OCI_MANIFEST, "x")
    return list(everything)


def test_a_cold_pull_fetches_each_blob_from_upstream_once(setup: Setup, toolbox: Toolbox) -> None:
    """The client's streams are written into the cache as they pass, and the background copy
    of the artifact waits for them (and they for it) instead of fetching the blobs again."""
    upstream, berth = setup.upstream, setup.berth
    layout = toolbox.root / "layout-teed"
    digests = _big_image(layout, layer_mib=8, layers=3)
    _push_with_skopeo(toolbox, layout, "x", upstream.endpoint, "lib/teed:1")
    with berth.api() as api:
        _proxy_project(api, "teecache", setup.registry_id, {})
    offset = upstream.server.log_offset()
    pulled = toolbox.root / "pulled-teed"
    creds = ["--src-creds", f"{berth.username}:{berth.password}", "--src-tls-verify=false"]
    source = f"docker://{berth.host}/teecache/lib/teed:1"
    toolbox.run(["skopeo", "copy", *creds, source, f"oci:{pulled}:x"])
    # skopeo checked every blob against its digest as it pulled it.
    with berth.api() as api:
        artifact = "/projects/teecache/repositories/lib%252Fteed/artifacts/1"
        _wait_for(lambda: api.get(artifact).status_code == 200, "the cached artifact")
    log = upstream.server.log_path.read_bytes()[offset:].decode(errors="replace")
    for digest in digests:
        fetched = re.findall(rf'"GET /v2/lib/teed/blobs/{digest} HTTP', log)
        assert len(fetched) == 1, f"{digest} fetched {len(fetched)} times from upstream:\n{log}"
    # Served from the cache alone now.
    upstream.stop()
    try:
        again = toolbox.root / "again-teed"
        toolbox.run(["skopeo", "copy", *creds, source, f"oci:{again}:x"])
    finally:
        upstream.start()


def _podman(toolbox: Toolbox, store: str) -> list[str]:
    return ["podman", *toolbox.storage(store), *PODMAN_GLOBALS]


def _pulled_digest(toolbox: Toolbox, store: str, reference: str) -> str:
    inspect = ["image", "inspect", "--format", "{{.Digest}}", reference]
    return toolbox.run([*_podman(toolbox, store), *inspect]).stdout.decode().strip()


def _mirrored_by_berth(toolbox: Toolbox, upstream: str, berth: str) -> None:
    """A registries.conf that reaches ``upstream`` through Berth as its mirror."""
    conf = toolbox.root / "registries.conf"
    conf.write_text(
        f"""
[[registry]]
location = "{upstream}"
insecure = true

[[registry.mirror]]
location = "{berth}"
insecure = true
"""
    )
    toolbox.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)


def test_podman_pulls_through_berth_as_a_mirror_also_with_the_upstream_stopped(
    setup: Setup, toolbox: Toolbox
) -> None:
    upstream, berth = setup.upstream, setup.berth
    digest = _push_upstream(toolbox, upstream, "lib/busybox:1")
    _mirrored_by_berth(toolbox, upstream.endpoint.host, berth.host)
    reference = f"{upstream.endpoint.host}/lib/busybox:1"
    toolbox.run([*_podman(toolbox, "first"), "pull", reference])
    assert _pulled_digest(toolbox, "first", reference) == digest
    with berth.api() as api:
        # It went through Berth: the mirror project caches it under the upstream's name.
        artifact = f"/projects/{MIRROR_PROJECT}/repositories/lib%252Fbusybox/artifacts/1"
        _wait_for(lambda: api.get(artifact).status_code == 200, "the mirrored artifact")
        assert api.get(artifact).json()["digest"] == digest
    _push_upstream(toolbox, upstream, "library/own:1")
    with berth.registry() as client:
        # The name as the mirror client says it, without the proxy project.
        assert _tags(client, "lib/busybox") == ["1"]
        # Names in Berth's own projects (its default library here) are never sent upstream.
        r = client.get("/v2/library/own/manifests/1", headers={"Accept": ACCEPT})
        assert r.status_code == 404, r.text
    upstream.stop()
    try:
        # Only Berth can answer now, from its cache, into a fresh store.
        toolbox.run([*_podman(toolbox, "second"), "pull", reference])
        assert _pulled_digest(toolbox, "second", reference) == digest
        missing = toolbox.run(
            [*_podman(toolbox, "third"), "pull", f"{upstream.endpoint.host}/lib/absent:1"],
            check=False,
        )
        assert missing.returncode != 0
    finally:
        upstream.start()


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"prevent_vul": "true", "severity": "high"}, "without vulnerability scanning"),
        ({"enable_content_trust_cosign": "true"}, "The image is not signed by cosign."),
    ],
)
def test_the_first_pull_from_upstream_meets_the_pull_policies(
    setup: Setup, toolbox: Toolbox, tmp_path: Path, metadata: dict[str, str], message: str
) -> None:
    upstream, berth = setup.upstream, setup.berth
    project = "guarded-" + next(iter(metadata)).replace("_", "-")
    _push_upstream(toolbox, upstream, "lib/policed:1")
    with berth.api() as api:
        _proxy_project(api, project, setup.registry_id, metadata)
    manifest = f"/v2/{project}/lib/policed/manifests/1"
    with berth.registry() as client:
        for method in ("GET", "HEAD"):
            r = client.request(method, manifest, headers={"Accept": ACCEPT})
            assert r.status_code == 412, (method, r.status_code, r.text)
        r = client.get(manifest, headers={"Accept": ACCEPT})
        (error,) = r.json()["errors"]
        assert error["code"] == "PROJECTPOLICYVIOLATION"
        assert message in error["message"]
    refused = toolbox.run(
        [
            "skopeo",
            "copy",
            "--src-creds",
            f"{berth.username}:{berth.password}",
            "--src-tls-verify=false",
            f"docker://{berth.host}{manifest.removeprefix('/v2').replace('/manifests/', ':')}",
            f"oci:{tmp_path / 'refused'}:1",
        ],
        check=False,
    )
    assert refused.returncode != 0
    assert message in refused.stderr, refused.stderr
    with berth.api() as api:
        # Cached meanwhile (so it can be scanned or signed), and refused from the cache too.
        artifact = f"/projects/{project}/repositories/lib%252Fpoliced/artifacts/1"
        _wait_for(lambda: api.get(artifact).status_code == 200, "the cached artifact")
    with berth.registry() as client:
        r = client.get(manifest, headers={"Accept": ACCEPT})
        assert r.status_code == 412, r.text
