"""What the job-service and fault tests share: running ``berth serve`` from a given
installation, pushing a small image, starting jobs through the API and waiting for them, and
a webhook receiver."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e._servers import ServerProcess, berth_env, free_port

FINISHED = ("Success", "Error", "Stopped")
LISTENING = "Berth listening on"


@contextlib.contextmanager
def state_dir(prefix: str) -> Iterator[Path]:
    """A directory for a server's state outside pytest's tmp tree: pytest resets that tree to
    mode 0700 whenever a session starts, which would lock the embedded PostgreSQL's own
    account out of its data dir the next time it is started."""
    path = Path(tempfile.mkdtemp(prefix=f"berth-{prefix}-"))
    try:
        yield path
    finally:
        # BERTH_TEST_KEEP_STATE=1 keeps logs and data for a look after a failure.
        if not os.environ.get("BERTH_TEST_KEEP_STATE"):
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class Serve:
    """One ``berth serve`` process and how to talk to it."""

    server: ServerProcess
    url: str
    password: str

    def api(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v2.0", auth=("admin", self.password), timeout=timeout
        )

    def registry(self, timeout: float = 30.0) -> httpx.Client:
        # Berth takes Basic credentials on /v2/ as Harbor does; enough for these tests.
        return httpx.Client(base_url=self.url, auth=("admin", self.password), timeout=timeout)


def start_serve(
    berth: list[str],
    cwd: Path,
    *,
    password: str,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    name: str = "berth",
    ready_within: float = 180.0,
) -> Serve:
    """``berth serve --port P`` as README says, run from ``cwd`` (its data dir defaults to
    ``cwd/berth-data``); returns once serve printed that it listens and ``/v2/`` answers."""
    port = free_port()
    cwd.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(
        name,
        [*berth, "serve", "--port", str(port), *extra_args],
        env=berth_env(password, **(extra_env or {})),
        log_path=cwd / f"{name}.log",
        cwd=cwd,
        owned_path=cwd / "berth-data",
    )
    offset = server.log_offset()
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while LISTENING not in server.log_since(offset):
        if server.proc is not None and server.proc.poll() is not None:
            raise AssertionError(f"berth serve exited early:\n{server.describe()}")
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"berth serve never said it listens:\n{server.describe()}")
        time.sleep(0.1)
    server.wait_ready(url, 30.0)
    return Serve(server, url, password)


def push_image(registry: httpx.Client, repository: str, tag: str) -> str:
    """A one-layer image pushed with monolithic uploads; returns the manifest digest."""
    r = try_push(registry, repository, tag)
    assert r.status_code == 201, f"{r.status_code}: {r.text}"
    return r.headers["Docker-Content-Digest"]


def try_push(registry: httpx.Client, repository: str, tag: str) -> httpx.Response:
    """Push a one-layer image; the first answer that is not 201, or the manifest PUT's."""
    layer = f"layer of {repository}:{tag} {time.time_ns()}".encode()
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    for blob in (layer, config):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = registry.post(
            f"/v2/{repository}/blobs/uploads/",
            params={"digest": digest},
            content=blob,
            headers={"Content-Type": "application/octet-stream"},
        )
        if r.status_code != 201:
            return r
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    return registry.put(
        f"/v2/{repository}/manifests/{tag}",
        content=manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )


def wait_for_job(api: httpx.Client, path: str, within: float = 90.0) -> dict[str, Any]:
    """Poll a job resource (``/system/gc/3``, a retention execution …) until it finished."""
    deadline = time.monotonic() + within
    while True:
        r = api.get(path)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        if body.get("job_status", body.get("status")) in FINISHED:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {path} did not finish within {within:.0f}s: {body}")
        time.sleep(0.3)


def run_gc(api: httpx.Client) -> dict[str, Any]:
    r = api.post("/system/gc/schedule", json={"schedule": {"type": "Manual"}, "parameters": {}})
    assert r.status_code == 201, f"starting GC: {r.status_code} {r.text}"
    gc_id = r.headers["Location"].rsplit("/", 1)[1]
    return wait_for_job(api, f"/system/gc/{gc_id}")


def retention_policy(api: httpx.Client, project_id: int) -> int:
    """A policy that keeps the latest tag of every repository in the project."""
    body = {
        "algorithm": "or",
        "rules": [
            {
                "disabled": False,
                "action": "retain",
                "template": "latestPushedK",
                "params": {"latestPushedK": 1},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project_id},
    }
    r = api.post("/retentions", json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


def run_retention(api: httpx.Client, policy_id: int) -> dict[str, Any]:
    r = api.post(f"/retentions/{policy_id}/executions", json={"dry_run": False})
    assert r.status_code == 201, f"starting retention: {r.status_code} {r.text}"
    path = r.headers["Location"].removeprefix("/api/v2.0")
    return wait_for_job(api, path)


def webhook_policy(api: httpx.Client, project: str, address: str) -> int:
    body = {
        "name": f"hooks-{time.time_ns()}",
        "enabled": True,
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": address}],
    }
    r = api.post(f"/projects/{project}/webhook/policies", json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


def webhook_executions(
    api: httpx.Client, project: str, policy_id: int, count: int, within: float = 60.0
) -> list[dict[str, Any]]:
    """Wait until the policy has ``count`` finished executions; return them."""
    deadline = time.monotonic() + within
    while True:
        r = api.get(f"/projects/{project}/webhook/policies/{policy_id}/executions")
        assert r.status_code == 200, r.text
        executions: list[dict[str, Any]] = r.json()
        finished = [e for e in executions if e["status"] in FINISHED]
        if len(finished) >= count:
            return finished
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook executions did not finish: {executions}")
        time.sleep(0.3)


@dataclass
class WebhookSink:
    """A real HTTP endpoint on loopback that records each POST; it can hold the first
    ``hang_first`` requests open for ``hang_seconds`` without answering."""

    hang_first: int = 0
    hang_seconds: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)  # each POST's Authorization
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: int = 0
    _port: int = 0

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def _count(self) -> int:
        with self._lock:
            self._seen += 1
            return self._seen

    @contextlib.contextmanager
    def running(self) -> Iterator[WebhookSink]:
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                number = sink._count()
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if number <= sink.hang_first:
                    time.sleep(sink.hang_seconds)
                    return
                with sink._lock:
                    sink.received.append(json.loads(body or b"{}"))
                    sink.authorizations.append(self.headers.get("Authorization", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._port = free_port()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
