"""Replication between real registries: two ``berth serve`` processes and Debian's
``docker-registry`` (CNCF Distribution 2.8), anonymous and with htpasswd.

The adapter contract suite runs every remote adapter against its real registry. Then Berth
replicates through its API: a push policy copies a multi-arch index with a cosign-style
signature tag and an OCI referrer to a second Berth (``harbor`` adapter), with name and tag
filters and a namespace rewrite; a destination answering 503 fails its tasks cleanly and
``/retry`` runs only those again once it is back; a pull policy mirrors a Distribution
registry into Berth.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.replication.adapter import Adapter
from registry.replication.client import Credential
from registry.replication.types import adapter_for
from tests.e2e._jobs import WebhookSink, push_image, state_dir, try_push
from tests.e2e._oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    build_image,
    build_multi_arch,
    descriptor,
    sha256,
    to_json,
    write_layout,
)
from tests.e2e._servers import (
    DISTRIBUTION_BINARY,
    DISTRIBUTION_READY_TIMEOUT,
    ServerProcess,
    free_port,
    start_berth,
    start_distribution,
)
from tests.e2e._tools import Toolbox
from tests.replication_contract import (
    ContractImage,
    check_adapter_contract,
    check_refuses_wrong_credentials,
)

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-replication-" + hashlib.sha256(os.urandom(8)).hexdigest()[:10]
ACCEPT = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
FINISHED = ("Succeed", "Failed", "Stopped")
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


class Endpoint:
    def __init__(self, host: str, username: str = "", password: str = "") -> None:
        self.host = host
        self.username = username
        self.password = password

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v2.0", auth=(self.username, self.password), timeout=30
        )

    def registry(self) -> httpx.Client:
        auth = (self.username, self.password) if self.username else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)


def _start_anonymous_distribution(
    workdir: Path, notifications: dict[str, Any] | None = None
) -> tuple[ServerProcess, str]:
    """Distribution without auth; ``notifications`` is its ``notifications`` section."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "draintimeout": "5s"},
    }
    if notifications is not None:
        config["notifications"] = notifications
    path = workdir / "config.yml"
    path.write_text(json.dumps(config))
    server = ServerProcess(
        f"distribution-{workdir.name}",
        [DISTRIBUTION_BINARY, "serve", str(path)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        log_path=workdir / "server.log",
        cwd=workdir,
    )
    server.start()
    host = f"127.0.0.1:{port}"
    server.wait_ready(f"http://{host}", DISTRIBUTION_READY_TIMEOUT)
    return server, host


@pytest.fixture(scope="module")
def partners() -> Iterator[dict[str, Endpoint]]:
    """Two Berths (``local`` replicates, ``remote`` receives) and two Distributions."""
    servers: list[ServerProcess] = []
    with state_dir("replication") as root:
        try:
            local, local_host = start_berth(root / "local", password=PASSWORD, name="berth-local")
            servers.append(local)
            remote, remote_host = start_berth(
                root / "remote", password=PASSWORD, name="berth-remote"
            )
            servers.append(remote)
            anonymous, anonymous_host = _start_anonymous_distribution(root / "dist-anon")
            servers.append(anonymous)
            htpasswd, htpasswd_host = start_distribution(
                root / "dist-htpasswd", username="mirror", password=PASSWORD
            )
            servers.append(htpasswd)
            yield {
                "local": Endpoint(local_host, "admin", PASSWORD),
                "remote": Endpoint(remote_host, "admin", PASSWORD),
                "anonymous": Endpoint(anonymous_host),
                "htpasswd": Endpoint(htpasswd_host, "mirror", PASSWORD),
            }
        finally:
            for server in reversed(servers):
                server.stop()


# --- the adapter contract suite ----------------------------------------------------------------

# (partner, adapter type, project to create first on a Berth)
ADAPTERS = {
    "docker-registry-anonymous": ("anonymous", "docker-registry"),
    "docker-registry-htpasswd": ("htpasswd", "docker-registry"),
    "harbor-on-berth": ("remote", "harbor"),
}


@contextlib.asynccontextmanager
async def _adapter(
    endpoint: Endpoint, kind: str, password: str | None = None
) -> AsyncIterator[Adapter]:
    credential = Credential(endpoint.username, endpoint.password if password is None else password)
    adapter = adapter_for(kind, endpoint.url, credential, insecure=False)
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.mark.parametrize("name", list(ADAPTERS))
async def test_adapter_contract(partners: dict[str, Endpoint], name: str) -> None:
    partner, kind = ADAPTERS[name]
    endpoint = partners[partner]
    image = build_image("amd64", 2)
    contract_image = ContractImage(
        image.blobs, image.manifest, image.digest, image.layer_digests[0]
    )
    async with _adapter(endpoint, kind) as adapter:
        await check_adapter_contract(adapter, f"contract/{name}", contract_image)
    if endpoint.username:
        async with _adapter(endpoint, kind, password="wrong") as refused:
            await check_refuses_wrong_credentials(refused)


# --- replication through the API ---------------------------------------------------------------


def _wait_execution(api: httpx.Client, execution_id: int, within: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = api.get(f"/replication/executions/{execution_id}").json()
        if body["status"] in FINISHED:
            return body
        assert time.monotonic() < deadline, f"execution {execution_id} still running: {body}"
        time.sleep(0.5)


def _start(api: httpx.Client, policy_id: int) -> int:
    r = api.post("/replication/executions", json={"policy_id": policy_id})
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


def _create(api: httpx.Client, path: str, body: dict[str, Any]) -> int:
    r = api.post(path, json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


def _registry_body(name: str, endpoint: Endpoint, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "url": endpoint.url,
        "insecure": False,
        "credential": {
            "type": "basic",
            "access_key": endpoint.username,
            "access_secret": endpoint.password,
        },
    }


def _push_with_skopeo(toolbox: Toolbox, layout: Path, ref: str, target: Endpoint, to: str) -> None:
    creds = ["--dest-creds", f"{target.username}:{target.password}"] if target.username else []
    toolbox.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--preserve-digests",
            *creds,
            "--dest-tls-verify=false",
            f"oci:{layout}:{ref}",
            f"docker://{target.host}/{to}",
        ]
    )


def _image_layout(
    path: Path, ref: str, architecture: str = "amd64", layers: int = 1
) -> tuple[Image, Path]:
    """A new single-platform image written as an OCI layout at ``path``, named ``ref``."""
    image = build_image(architecture, layers)
    blobs = image.blobs | {image.digest: image.manifest}
    write_layout(path, blobs, image.manifest, OCI_MANIFEST, ref)
    return image, path


def _push_manifest(client: httpx.Client, repository: str, ref: str, body: bytes) -> None:
    r = client.put(
        f"/v2/{repository}/manifests/{ref}",
        content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 201, r.text


def _push_blob(client: httpx.Client, repository: str, data: bytes) -> None:
    r = client.post(
        f"/v2/{repository}/blobs/uploads/", params={"digest": sha256(data)}, content=data
    )
    assert r.status_code == 201, r.text


def _signature_and_referrer(
    client: httpx.Client, repository: str, subject: bytes
) -> tuple[str, str]:
    """A cosign-style signature (tag ``sha256-<hex>.sig``) and an OCI referrer (``subject``)
    of the manifest ``subject``; their digests."""
    empty = b"{}"
    _push_blob(client, repository, empty)
    payload = b'{"critical": {"type": "cosign container image signature"}}'
    _push_blob(client, repository, payload)
    signature = to_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", empty),
            "layers": [descriptor("application/vnd.dev.cosign.simplesigning.v1+json", payload)],
        }
    )
    tag = sha256(subject).replace("sha256:", "sha256-") + ".sig"
    _push_manifest(client, repository, tag, signature)
    # cosign's attestation and SBOM tags follow their subject the same way.
    for suffix, layer_type in (
        ("att", "application/vnd.dsse.envelope.v1+json"),
        ("sbom", "text/spdx+json"),
    ):
        content = b'{"accessory": "%s"}' % suffix.encode()
        _push_blob(client, repository, content)
        accessory = to_json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor("application/vnd.oci.image.config.v1+json", empty),
                "layers": [descriptor(layer_type, content)],
            }
        )
        _push_manifest(client, repository, tag.replace(".sig", f".{suffix}"), accessory)
    sbom = b'{"spdxVersion": "SPDX-2.3"}'
    _push_blob(client, repository, sbom)
    referrer = to_json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/spdx+json",
            "config": descriptor("application/vnd.oci.empty.v1+json", empty),
            "layers": [descriptor("application/spdx+json", sbom)],
            "subject": descriptor(OCI_INDEX, subject),
        }
    )
    _push_manifest(client, repository, sha256(referrer), referrer)
    return sha256(signature), sha256(referrer)


def test_registry_api_keeps_the_secret_and_pings(partners: dict[str, Endpoint]) -> None:
    local, remote = partners["local"], partners["remote"]
    with local.api() as api:
        kinds = ["docker-registry", "harbor", "docker-hub", "quay", "github-ghcr", "gitlab"]
        assert api.get("/replication/adapters").json() == kinds
        infos = api.get("/replication/adapterinfos").json()
        assert set(infos) == set(kinds)
        assert infos["docker-hub"]["endpoint_pattern"] == {
            "endpoint_type": "EndpointPatternTypeFix",
            "endpoints": [{"key": "hub.docker.com", "value": "https://hub.docker.com"}],
        }
        assert infos["github-ghcr"]["endpoint_pattern"]["endpoints"][0]["value"] == (
            "https://ghcr.io"
        )
        assert infos["quay"]["credential_pattern"]["access_key_data"] == "json_file"
        assert infos["docker-hub"]["supported_repository_path_component_type"] == "ONLY_TWO"
        registry_id = _create(api, "/registries", _registry_body("to-check", remote, "harbor"))
        shown = api.get(f"/registries/{registry_id}").json()
        assert shown["credential"] == {
            "type": "basic",
            "access_key": "admin",
            "access_secret": "*****",
        }
        assert PASSWORD not in api.get("/registries").text
        assert api.post("/registries/ping", json={"id": registry_id}).status_code == 200
        assert api.get(f"/registries/{registry_id}").json()["status"] == "healthy"
        # An update without the secret keeps it; a wrong one makes the ping fail.
        r = api.put(f"/registries/{registry_id}", json={"description": "second berth"})
        assert r.status_code == 200, r.text
        assert api.post("/registries/ping", json={"id": registry_id}).status_code == 200
        wrong = api.post("/registries/ping", json={"id": registry_id, "access_secret": "nope"})
        assert wrong.status_code == 400, wrong.text
        unreachable = {
            **_registry_body("x", remote, "harbor"),
            "url": f"http://127.0.0.1:{free_port()}",
        }
        assert api.post("/registries/ping", json=unreachable).status_code == 400
        info = api.get(f"/registries/{registry_id}/info").json()
        assert info["type"] == "harbor"
        assert "event_based" in info["supported_triggers"]
        assert api.delete(f"/registries/{registry_id}").status_code == 200
        assert api.get(f"/registries/{registry_id}").status_code == 404
    with remote.api() as api:
        assert httpx.get(f"{remote.url}/api/version").json() == {"version": "v2.0"}


def test_push_replication_copies_index_signature_and_referrer(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local, remote = partners["local"], partners["remote"]
    multi = build_multi_arch()
    layout = tmp_path / "layout"
    write_layout(layout, multi.all_blobs(), multi.index, OCI_INDEX, "multi")
    with local.api() as api:
        assert (
            api.post("/projects", json={"project_name": "src", "metadata": {}}).status_code == 201
        )
    _push_with_skopeo(toolbox, layout, "multi", local, "src/team/app:1.0")
    _push_with_skopeo(toolbox, layout, "multi", local, "src/team/app:2.0")
    _, other_layout = _image_layout(tmp_path / "other", "x")
    _push_with_skopeo(toolbox, other_layout, "x", local, "src/team/skipped:1.0")
    with local.registry() as client:
        signature, referrer = _signature_and_referrer(client, "src/team/app", multi.index)

    with local.api() as api:
        registry_id = _create(api, "/registries", _registry_body("berth-b", remote, "harbor"))
        policy_id = _create(
            api,
            "/replication/policies",
            {
                "name": "to-b",
                "src_registry": None,
                "dest_registry": {"id": registry_id},
                "dest_namespace": "mirror",
                "dest_namespace_replace_count": 1,
                "filters": [
                    {"type": "name", "value": "src/team/app"},
                    {"type": "tag", "value": "1.*", "decoration": "matches"},
                ],
                "trigger": {"type": "manual"},
                "override": True,
                "enabled": True,
            },
        )
        policy = api.get(f"/replication/policies/{policy_id}").json()
        assert policy["src_registry"]["id"] == 0
        assert policy["dest_registry"]["id"] == registry_id
        execution_id = _start(api, policy_id)
        execution = _wait_execution(api, execution_id)
        tasks = api.get(f"/replication/executions/{execution_id}/tasks").json()
        logs = [
            api.get(f"/replication/executions/{execution_id}/tasks/{t['id']}/log").text
            for t in tasks
        ]
        assert execution["status"] == "Succeed", (execution, tasks, logs)
        assert (execution["total"], execution["succeed"], execution["failed"]) == (1, 1, 0)
        assert tasks[0]["operation"] == "copy"
        assert tasks[0]["src_resource"] == "src/team/app:[1.0]"
        assert tasks[0]["dst_resource"] == "mirror/team/app:[1.0]"
        assert "copied blob" in logs[0]

    with remote.registry() as client:
        got = client.get("/v2/mirror/team/app/manifests/1.0", headers={"Accept": ACCEPT})
        assert got.status_code == 200, got.text
        assert got.content == multi.index
        for image in multi.images:
            child = client.get(
                f"/v2/mirror/team/app/manifests/{image.digest}", headers={"Accept": ACCEPT}
            )
            assert child.content == image.manifest
            for digest, data in image.blobs.items():
                assert client.get(f"/v2/mirror/team/app/blobs/{digest}").content == data
        tag = multi.digest.replace("sha256:", "sha256-") + ".sig"
        sig = client.head(f"/v2/mirror/team/app/manifests/{tag}", headers={"Accept": ACCEPT})
        assert sig.headers["Docker-Content-Digest"] == signature
        for suffix in ("att", "sbom"):
            copied = client.get(
                f"/v2/mirror/team/app/manifests/{tag.replace('.sig', '.' + suffix)}",
                headers={"Accept": ACCEPT},
            )
            assert copied.status_code == 200, (suffix, copied.text)
        referrers = client.get(f"/v2/mirror/team/app/referrers/{multi.digest}").json()
        assert [m["digest"] for m in referrers["manifests"]] == [referrer]
        # The tag filter left 2.0 behind and the name filter the other repository.
        assert client.get("/v2/mirror/team/app/manifests/2.0").status_code == 404
        assert client.get("/v2/mirror/team/skipped/manifests/1.0").status_code == 404

    # Run again: everything is there, so no blob moves.
    with local.api() as api:
        again = _wait_execution(api, _start(api, policy_id))
        assert again["status"] == "Succeed"
        task = api.get(f"/replication/executions/{again['id']}/tasks").json()[0]
        log = api.get(f"/replication/executions/{again['id']}/tasks/{task['id']}/log").text
        assert "copied blob" not in log


class FlakyFront:
    """An HTTP front for a registry that answers 503 to /v2/ requests naming a repository
    whose path contains ``failing`` while ``down`` is set, and forwards everything else."""

    def __init__(self, upstream: str, failing: str) -> None:
        self.upstream = upstream
        self.failing = failing
        self.down = True
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if front.down and self.path.startswith("/v2/") and front.failing in self.path:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "transfer-encoding")
                }
                with httpx.Client(base_url=front.upstream, timeout=60) as client:
                    answer = client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(key, value.replace(front.upstream, front.url))
                data = b"" if self.command == "HEAD" else answer.content
                length_header = answer.headers.get("content-length", str(len(data)))
                self.send_header(
                    "Content-Length", length_header if self.command == "HEAD" else str(len(data))
                )
                self.end_headers()
                self.wfile.write(data)

            # http.server dispatches on these names.
            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _push_policy_through(api: httpx.Client, front: FlakyFront, remote: Endpoint, name: str) -> int:
    """A manual push policy of the project ``name`` to ``remote`` reached through ``front``."""
    body = _registry_body(f"{name}-b", remote, "harbor")
    body["url"] = front.url
    registry_id = _create(api, "/registries", body)
    return _create(
        api,
        "/replication/policies",
        {
            "name": name,
            "dest_registry": {"id": registry_id},
            "filters": [{"type": "name", "value": f"{name}/**"}],
            "trigger": {"type": "manual"},
        },
    )


def test_destination_down_fails_tasks_and_retry_runs_only_those(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local, remote = partners["local"], partners["remote"]
    with local.api() as api:
        api.post("/projects", json={"project_name": "flaky", "metadata": {}})
    for repository in ("flaky/good", "flaky/failing"):
        _, layout = _image_layout(tmp_path / repository.replace("/", "-"), "v1")
        _push_with_skopeo(toolbox, layout, "v1", local, f"{repository}:v1")
    front = FlakyFront(remote.url, "failing")
    try:
        with local.api() as api:
            policy_id = _push_policy_through(api, front, remote, "flaky")
            execution_id = _start(api, policy_id)
            execution = _wait_execution(api, execution_id)
            assert execution["status"] == "Failed", execution
            assert (execution["total"], execution["succeed"], execution["failed"]) == (2, 1, 1)
            tasks = {
                t["src_resource"]: t
                for t in api.get(f"/replication/executions/{execution_id}/tasks").json()
            }
            failed = tasks["flaky/failing:[v1]"]
            assert failed["status"] == "Failed"
            assert failed["attempts"] == 3  # retried with backoff before giving up
            log = api.get(f"/replication/executions/{execution_id}/tasks/{failed['id']}/log").text
            assert "503" in log
            good = tasks["flaky/good:[v1]"]
            assert good["status"] == "Succeed"

            front.down = False
            r = api.post(f"/replication/executions/{execution_id}/retry")
            assert r.status_code == 200, r.text
            assert r.json()["retried_tasks"] == 1
            execution = _wait_execution(api, execution_id)
            assert execution["status"] == "Succeed", execution
            assert (execution["total"], execution["succeed"], execution["failed"]) == (2, 2, 0)
            after = {
                t["src_resource"]: t
                for t in api.get(f"/replication/executions/{execution_id}/tasks").json()
            }
            # The task that had succeeded was not run again.
            assert after["flaky/good:[v1]"]["end_time"] == good["end_time"]
            assert api.post(f"/replication/executions/{execution_id}/retry").status_code == 400
    finally:
        front.close()
    with remote.registry() as client:
        assert (
            client.head("/v2/flaky/failing/manifests/v1", headers={"Accept": ACCEPT}).status_code
            == 200
        )


def test_pull_replication_from_distribution(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local, anonymous = partners["local"], partners["anonymous"]
    image, layout = _image_layout(tmp_path / "upstream", "3.19", "arm64", 2)
    _push_with_skopeo(toolbox, layout, "3.19", anonymous, "upstream/alpine:3.19")
    # A Docker manifest list of Docker schema2 manifests, as skopeo converts them.
    multi = build_multi_arch()
    multi_layout = tmp_path / "multi"
    write_layout(multi_layout, multi.all_blobs(), multi.index, OCI_INDEX, "2")
    toolbox.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--format",
            "v2s2",
            "--dest-tls-verify=false",
            f"oci:{multi_layout}:2",
            f"docker://{anonymous.host}/upstream/web:2",
        ]
    )
    docker_accept = f"{DOCKER_LIST}, application/vnd.docker.distribution.manifest.v2+json"
    with anonymous.registry() as client:
        upstream_list = client.get(
            "/v2/upstream/web/manifests/2", headers={"Accept": docker_accept}
        )
        assert upstream_list.headers["Content-Type"] == DOCKER_LIST
    with local.api() as api:
        registry_id = _create(
            api, "/registries", _registry_body("dist", anonymous, "docker-registry")
        )
        policy_id = _create(
            api,
            "/replication/policies",
            {
                "name": "from-dist",
                "src_registry": {"id": registry_id},
                "dest_registry": None,
                "dest_namespace": "pulled",
                "dest_namespace_replace_count": 1,
                "trigger": {"type": "manual"},
            },
        )
        execution = _wait_execution(api, _start(api, policy_id))
        assert execution["status"] == "Succeed", execution
        # The destination project was created for the pull.
        assert api.head("/projects", params={"project_name": "pulled"}).status_code == 200
    with local.registry() as client:
        got = client.get("/v2/pulled/alpine/manifests/3.19", headers={"Accept": ACCEPT})
        assert got.status_code == 200, got.text
        assert got.content == image.manifest
        listed = client.get("/v2/pulled/web/manifests/2", headers={"Accept": docker_accept})
        assert listed.content == upstream_list.content
        assert listed.headers["Content-Type"] == DOCKER_LIST
        for child in json.loads(listed.content)["manifests"]:
            manifest = client.get(
                f"/v2/pulled/web/manifests/{child['digest']}", headers={"Accept": docker_accept}
            )
            assert manifest.status_code == 200, manifest.text
            assert sha256(manifest.content) == child["digest"]


def _wait_for(check: Any, what: str, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {within:.0f}s"
        time.sleep(0.5)


def test_event_based_replication_follows_pushes_and_deletes(
    partners: dict[str, Endpoint],
) -> None:
    local, remote = partners["local"], partners["remote"]
    with local.api() as api, WebhookSink().running() as sink:
        assert (
            api.post("/projects", json={"project_name": "events", "metadata": {}}).status_code
            == 201
        )
        hook = {
            "name": "replication-events",
            "enabled": True,
            "event_types": ["REPLICATION"],
            "targets": [{"type": "http", "address": sink.address}],
        }
        assert api.post("/projects/events/webhook/policies", json=hook).status_code == 201
        # Pushes before the policy exists, on fresh connections (so on each HTTP process):
        # what they learnt of the push policies must not outlive the policy's creation.
        for n in range(4):
            with local.registry() as client:
                push_image(client, "events/early", str(n))
        registry_id = _create(api, "/registries", _registry_body("events-b", remote, "harbor"))
        policy_id = _create(
            api,
            "/replication/policies",
            {
                "name": "on-push",
                "dest_registry": {"id": registry_id},
                "filters": [{"type": "name", "value": "events/**"}],
                "trigger": {"type": "event_based"},
                "replicate_deletion": True,
            },
        )
        with local.registry() as client:
            digest = push_image(client, "events/app", "1.0")
        with remote.registry() as client:
            _wait_for(
                lambda: (
                    client.head(
                        "/v2/events/app/manifests/1.0", headers={"Accept": ACCEPT}
                    ).status_code
                    == 200
                ),
                "replication of the push",
            )
        executions = api.get("/replication/executions", params={"policy_id": policy_id}).json()
        assert executions[0]["trigger"] == "event_based"
        event = _wait_for(
            lambda: next((e for e in sink.received if e.get("type") == "REPLICATION"), None),
            "the REPLICATION webhook",
        )
        replication = event["event_data"]["replication"]
        assert replication["job_status"] == "Success"
        assert replication["successful_artifact"][0]["name_tag"] == "app:1.0"
        assert replication["dest_resource"]["registry_name"] == "events-b"

        with local.registry() as client:
            assert client.delete(f"/v2/events/app/manifests/{digest}").status_code == 202
        with remote.registry() as client:
            _wait_for(
                lambda: (
                    client.head(
                        f"/v2/events/app/manifests/{digest}", headers={"Accept": ACCEPT}
                    ).status_code
                    == 404
                ),
                "replication of the delete",
            )
        newest = api.get("/replication/executions", params={"policy_id": policy_id}).json()[0]
        tasks = api.get(f"/replication/executions/{newest['id']}/tasks").json()
        assert tasks[0]["operation"] == "deletion"


def test_scheduled_replication_runs_on_its_cron(partners: dict[str, Endpoint]) -> None:
    local, remote = partners["local"], partners["remote"]
    with local.api() as api:
        assert (
            api.post("/projects", json={"project_name": "sched", "metadata": {}}).status_code == 201
        )
        with local.registry() as client:
            push_image(client, "sched/app", "nightly")
        registry_id = _create(api, "/registries", _registry_body("sched-b", remote, "harbor"))
        body = {
            "name": "every-five-seconds",
            "dest_registry": {"id": registry_id},
            "filters": [{"type": "name", "value": "sched/**"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "*/5 * * * * *"}},
        }
        bad = {**body, "trigger": {"type": "scheduled", "trigger_settings": {"cron": "* * *"}}}
        assert api.post("/replication/policies", json=bad).status_code == 400
        policy_id = _create(api, "/replication/policies", body)
        runs = _wait_for(
            lambda: api.get("/replication/executions", params={"policy_id": policy_id}).json(),
            "a scheduled execution",
            within=40,
        )
        assert runs[-1]["trigger"] == "scheduled"
        _wait_execution(api, runs[-1]["id"])
        # Disabled, it stops running.
        assert (
            api.put(
                f"/replication/policies/{policy_id}", json={**body, "enabled": False}
            ).status_code
            == 200
        )
    with remote.registry() as client:
        assert (
            client.head("/v2/sched/app/manifests/nightly", headers={"Accept": ACCEPT}).status_code
            == 200
        )


def _start_notifying_distribution(
    workdir: Path, endpoint: str, secret: str
) -> tuple[ServerProcess, str]:
    """Distribution that reports its events to ``endpoint`` with ``Authorization: secret``."""
    endpoints = [
        {
            "name": "berth",
            "url": endpoint,
            "headers": {"Authorization": [f"Bearer {secret}"]},
            "timeout": "3s",
            "threshold": 5,
            "backoff": "1s",
            "ignoredmediatypes": ["application/octet-stream"],
        }
    ]
    return _start_anonymous_distribution(workdir, {"endpoints": endpoints})


def test_inbound_notifications_mirror_distribution_pushes(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local = partners["local"]
    secret = "notify-" + hashlib.sha256(os.urandom(8)).hexdigest()[:16]
    server, host = _start_notifying_distribution(
        tmp_path / "notifying", f"{local.url}/service/notifications", secret
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
                    "name": "mirror-on-notify",
                    "src_registry": {"id": registry_id},
                    "dest_namespace": "notified",
                    "filters": [{"type": "tag", "value": "v*", "decoration": "matches"}],
                    "trigger": {"type": "event_based"},
                },
            )
        refused = httpx.post(
            f"{local.url}/service/notifications",
            json={"events": []},
            headers={"Authorization": "Bearer wrong"},
        )
        assert refused.status_code == 401

        _, layout = _image_layout(tmp_path / "image", "v1")
        started = time.monotonic()
        _push_with_skopeo(toolbox, layout, "v1", upstream, "team/web:v1")
        _push_with_skopeo(toolbox, layout, "v1", upstream, "team/web:skip-me")
        with local.registry() as client:
            _wait_for(
                lambda: (
                    client.head(
                        "/v2/notified/web/manifests/v1", headers={"Accept": ACCEPT}
                    ).status_code
                    == 200
                ),
                "the mirror of the notified push",
                within=45,
            )
            seconds = time.monotonic() - started
            assert client.get("/v2/notified/web/manifests/skip-me").status_code == 404
        with local.api() as api:
            runs = api.get("/replication/executions", params={"policy_id": policy_id}).json()
            assert runs
            assert all(r["trigger"] == "event_based" for r in runs)
        print(f"\nnotified push mirrored in {seconds:.1f} s")
    finally:
        server.stop()


def test_proxy_cache_project_pulls_through_and_serves_the_cache_when_upstream_is_down(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local = partners["local"]
    server, host = _start_anonymous_distribution(tmp_path / "upstream")
    try:
        upstream = Endpoint(host)
        image, layout = _image_layout(tmp_path / "image", "1", layers=2)
        _push_with_skopeo(toolbox, layout, "1", upstream, "lib/busybox:1")
        with local.api() as api:
            registry_id = _create(
                api, "/registries", _registry_body("upstream", upstream, "docker-registry")
            )
            r = api.post(
                "/projects",
                json={"project_name": "cache", "registry_id": registry_id, "metadata": {}},
            )
            assert r.status_code == 201, r.text
            assert api.get("/projects/cache").json()["registry_id"] == registry_id
        layer = image.layer_digests[0]
        with local.registry() as client:
            # A blob asked for before anything is cached is streamed on from upstream.
            relayed = client.get(f"/v2/cache/lib/busybox/blobs/{layer}")
            assert relayed.status_code == 200, relayed.text
            assert relayed.content == image.blobs[layer]
        artifact = "/projects/cache/repositories/lib%252Fbusybox/artifacts/1"
        with local.api() as api:
            assert api.get(artifact).status_code == 404
        source = f"docker://{local.host}/cache/lib/busybox:1"
        creds = ["--src-creds", f"{local.username}:{local.password}", "--src-tls-verify=false"]
        toolbox.run(["skopeo", "copy", *creds, source, f"oci:{tmp_path / 'first'}:1"])
        raw = toolbox.run(
            ["skopeo", "inspect", "--raw", "--creds", creds[1], "--tls-verify=false", source]
        )
        assert raw.stdout == image.manifest
        with local.registry() as client:
            refused = try_push(client, "cache/lib/mine", "1")
            assert refused.status_code == 403, refused.text
            assert refused.json()["errors"][0]["code"] == "DENIED"
        with local.api() as api:
            # The pull was answered while the artifact was cached behind it.
            _wait_for(lambda: api.get(artifact).status_code == 200, "the cached artifact")
    finally:
        server.stop()
    # Upstream gone: what was pulled is still served, by tag and by digest.
    toolbox.run(["skopeo", "copy", *creds, source, f"oci:{tmp_path / 'second'}:1"])
    by_digest = f"docker://{local.host}/cache/lib/busybox@{image.digest}"
    toolbox.run(["skopeo", "copy", *creds, by_digest, f"oci:{tmp_path / 'third'}:1"])
    with local.registry() as client:
        missing = client.get("/v2/cache/lib/other/manifests/1", headers={"Accept": ACCEPT})
        assert missing.status_code == 404


def test_stop_ends_an_execution_whose_destination_is_down(
    partners: dict[str, Endpoint], toolbox: Toolbox, tmp_path: Path
) -> None:
    local, remote = partners["local"], partners["remote"]
    with local.api() as api:
        assert (
            api.post("/projects", json={"project_name": "halt", "metadata": {}}).status_code == 201
        )
    _, layout = _image_layout(tmp_path / "image", "v1")
    _push_with_skopeo(toolbox, layout, "v1", local, "halt/app:v1")
    front = FlakyFront(remote.url, "halt/")
    try:
        with local.api() as api:
            policy_id = _push_policy_through(api, front, remote, "halt")
            execution_id = _start(api, policy_id)
            _wait_for(
                lambda: api.get(f"/replication/executions/{execution_id}/tasks").json(),
                "the task",
            )
            assert api.put(f"/replication/executions/{execution_id}").status_code == 200
            execution = _wait_execution(api, execution_id, within=30)
            assert execution["status"] == "Stopped", execution
            assert api.put(f"/replication/executions/{execution_id}").status_code == 400
            front.down = False
            assert api.post(f"/replication/executions/{execution_id}/retry").status_code == 200
            assert _wait_execution(api, execution_id)["status"] == "Succeed"
    finally:
        front.close()
