"""Replication with Distribution in ``auth: token`` mode, its realm a token issuer run by the
test: Berth asks the issuer for tokens with Docker's token spec (Basic) for one registry
record and with OAuth2 client credentials for another, pushes with ``copy_by_chunk`` (a
multi-MiB layer sent as bounded ``PATCH`` requests, counted in Distribution's access log) and
pulls the image back into another project."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import json
import math
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e._jobs import state_dir
from tests.e2e._servers import (
    DISTRIBUTION_BINARY,
    DISTRIBUTION_READY_TIMEOUT,
    ServerProcess,
    free_port,
    start_berth,
)

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-token-" + secrets.token_hex(5)
SERVICE = "berth-e2e-registry"
ISSUER = "berth-e2e-issuer"
USER, USER_PASSWORD = "mirror", "mirror-" + secrets.token_hex(6)
CLIENT_ID, CLIENT_SECRET = "berth-replicator", "client-" + secrets.token_hex(8)
CHUNK = 1024 * 1024
LAYER_BYTES = 5 * CHUNK + 4321  # six PATCH requests at 1 MiB each
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
FINISHED = ("Succeed", "Failed", "Stopped")


def _libtrust_key_id(key: rsa.RSAPublicKey) -> str:
    """The ``kid`` Distribution 2.8 derives for a key of its root bundle (libtrust's)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass
class TokenIssuer:
    """Docker's token spec: ``GET realm?service&scope`` with Basic, and the OAuth2 form
    ``POST`` with ``grant_type=client_credentials``; every request is kept for the test."""

    certificate_path: Path
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    seen: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self.kid = _libtrust_key_id(self.key.public_key())

    def token(self, subject: str, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else (scope, "", "")
            if kind == "repository":
                name, _, actions = scope.removeprefix("repository:").rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def answer(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        query = parse_qs(urlsplit(target).query)
        if method == "POST":
            form = parse_qs(body.decode())
            grant = form.get("grant_type", [""])[0]
            self.seen.append(("POST", grant, " ".join(form.get("scope", []))))
            good = (
                grant == "client_credentials"
                and form.get("client_id") == [CLIENT_ID]
                and form.get("client_secret") == [CLIENT_SECRET]
            )
            if not good:
                return 401, {"error": "invalid_client"}
            token = self.token(CLIENT_ID, form.get("scope", [""])[0].split())
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}
        self.seen.append(
            ("GET", headers.get("Authorization", "")[:6], " ".join(query.get("scope", [])))
        )
        expected = "Basic " + base64.b64encode(f"{USER}:{USER_PASSWORD}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        token = self.token(USER, query.get("scope", []))
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def serve(self) -> tuple[http.server.ThreadingHTTPServer, str]:
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _reply(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = issuer.answer(self.command, self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Kept in ``seen`` instead."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}/token"


def _start_token_distribution(workdir: Path, realm: str, bundle: Path) -> tuple[ServerProcess, str]:
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "draintimeout": "5s"},
        "auth": {
            "token": {
                "realm": realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(bundle),
            }
        },
    }
    (workdir / "config.yml").write_text(json.dumps(config))
    server = ServerProcess(
        "distribution-token",
        [DISTRIBUTION_BINARY, "serve", str(workdir / "config.yml")],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        log_path=workdir / "server.log",
        cwd=workdir,
    )
    server.start()
    host = f"127.0.0.1:{port}"
    server.wait_ready(f"http://{host}", DISTRIBUTION_READY_TIMEOUT)
    return server, host


@dataclass
class Partners:
    berth: str
    distribution: str
    distribution_log: Path
    issuer: TokenIssuer


@pytest.fixture(scope="module")
def partners() -> Iterator[Partners]:
    with state_dir("replication-token") as root:
        (root / "dist").mkdir(parents=True, exist_ok=True)
        issuer = TokenIssuer(root / "dist" / "issuer.pem")
        issuer_server, realm = issuer.serve()
        servers: list[ServerProcess] = []
        try:
            distribution, dist_host = _start_token_distribution(
                root / "dist", realm, issuer.certificate_path
            )
            servers.append(distribution)
            berth, berth_host = start_berth(
                root / "berth",
                password=PASSWORD,
                name="berth-token-partner",
                extra_env={"BERTH_REPLICATION_CHUNK_BYTES": str(CHUNK)},
            )
            servers.append(berth)
            yield Partners(berth_host, dist_host, root / "dist" / "server.log", issuer)
        finally:
            for server in reversed(servers):
                server.stop()
            issuer_server.shutdown()
            issuer_server.server_close()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_image(berth: httpx.Client, repository: str) -> tuple[bytes, bytes]:
    """An image with one incompressible multi-MiB layer; its manifest and layer."""
    layer = os.urandom(LAYER_BYTES)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        }
    ).encode()
    for blob in (config, layer):
        r = berth.post(
            f"/v2/{repository}/blobs/uploads/", params={"digest": _digest(blob)}, content=blob
        )
        assert r.status_code == 201, r.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    r = berth.put(
        f"/v2/{repository}/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return manifest, layer


def _registry(api: httpx.Client, name: str, host: str, kind: str, key: str, secret: str) -> int:
    body = {
        "name": name,
        "type": "docker-registry",
        "url": f"http://{host}",
        "credential": {"type": kind, "access_key": key, "access_secret": secret},
    }
    r = api.post("/registries", json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


def _run(api: httpx.Client, policy: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Create the policy, run it, wait for the end: the execution and its tasks' logs."""
    r = api.post("/replication/policies", json={"trigger": {"type": "manual"}, **policy})
    assert r.status_code == 201, r.text
    policy_id = int(r.headers["Location"].rsplit("/", 1)[1])
    r = api.post("/replication/executions", json={"policy_id": policy_id})
    assert r.status_code == 201, r.text
    execution_id = int(r.headers["Location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 120
    while (execution := api.get(f"/replication/executions/{execution_id}").json())[
        "status"
    ] not in FINISHED:
        assert time.monotonic() < deadline, execution
        time.sleep(0.5)
    tasks = api.get(f"/replication/executions/{execution_id}/tasks").json()
    logs = "\n".join(
        api.get(f"/replication/executions/{execution_id}/tasks/{t['id']}/log").text for t in tasks
    )
    return execution, logs


@contextlib.contextmanager
def _clients(partners: Partners) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Berth's management API and its /v2/, as the admin."""
    auth = ("admin", PASSWORD)
    with (
        httpx.Client(base_url=f"http://{partners.berth}/api/v2.0", auth=auth, timeout=60) as api,
        httpx.Client(base_url=f"http://{partners.berth}", auth=auth, timeout=60) as berth,
    ):
        yield api, berth


def _distribution_token(partners: Partners, repository: str) -> str:
    return partners.issuer.token("test", [f"repository:{repository}:pull"])


def test_push_in_chunks_and_pull_back_through_a_token_auth_distribution(partners: Partners) -> None:
    with _clients(partners) as (api, berth):
        assert (
            api.post("/projects", json={"project_name": "chunky", "metadata": {}}).status_code
            == 201
        )
        manifest, layer = _push_image(berth, "chunky/app")
        basic_id = _registry(api, "dist-token", partners.distribution, "basic", USER, USER_PASSWORD)
        oauth_id = _registry(
            api, "dist-oauth", partners.distribution, "oauth", CLIENT_ID, CLIENT_SECRET
        )
        for registry_id in (basic_id, oauth_id):
            r = api.post("/registries/ping", json={"id": registry_id})
            assert r.status_code == 200, r.text
        # The OAuth2 secret is sealed like any other: never shown back.
        assert CLIENT_SECRET not in api.get(f"/registries/{oauth_id}").text
        wrong = api.post("/registries/ping", json={"id": oauth_id, "access_secret": "wrong"})
        assert wrong.status_code == 400, wrong.text

        started = time.monotonic()
        execution, logs = _run(
            api,
            {
                "name": "push-in-chunks",
                "dest_registry": {"id": basic_id},
                "filters": [{"type": "name", "value": "chunky/**"}],
                "copy_by_chunk": True,
            },
        )
        pushed_in = time.monotonic() - started
        assert execution["status"] == "Succeed", (execution, logs)
        assert f"({LAYER_BYTES} bytes) in chunks of {CHUNK} bytes" in logs

    token = _distribution_token(partners, "chunky/app")
    with httpx.Client(
        base_url=f"http://{partners.distribution}", headers={"Authorization": f"Bearer {token}"}
    ) as dist:
        got = dist.get("/v2/chunky/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert got.status_code == 200, got.text
        assert got.content == manifest
        blob = dist.get(f"/v2/chunky/app/blobs/{_digest(layer)}")
        assert blob.status_code == 200
        assert _digest(blob.content) == _digest(layer)
    # Every chunk was its own request: the layer in ceil(size / chunk), the config in one.
    access_log = partners.distribution_log.read_text()
    patches = re.findall(r'"PATCH /v2/chunky/app/blobs/uploads/[^"]*" 202', access_log)
    assert len(patches) == math.ceil(LAYER_BYTES / CHUNK) + 1, access_log[-3000:]

    with _clients(partners) as (api, berth):
        execution, logs = _run(
            api,
            {
                "name": "pull-with-oauth",
                "src_registry": {"id": oauth_id},
                "filters": [{"type": "name", "value": "chunky/**"}],
                "dest_namespace": "pulled",
                "dest_namespace_replace_count": 1,
            },
        )
        assert execution["status"] == "Succeed", (execution, logs)
        got = berth.get("/v2/pulled/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert got.status_code == 200, got.text
        assert got.content == manifest
        blob = berth.get(f"/v2/pulled/app/blobs/{_digest(layer)}")
        assert _digest(blob.content) == _digest(layer)
    grants = {(method, how) for method, how, _ in partners.issuer.seen}
    # Docker's token spec with Basic for one record, OAuth2 client credentials for the other.
    assert ("GET", "Basic ") in grants
    assert ("POST", "client_credentials") in grants
    assert ("POST", "client_credentials", "registry:catalog:*") in partners.issuer.seen
    print(f"push of a {LAYER_BYTES}-byte layer in {CHUNK}-byte chunks: {pushed_in:.1f}s")
