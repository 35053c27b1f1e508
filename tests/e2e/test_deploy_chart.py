"""helm/berth, the chart that deploys Berth, linted and rendered by the real helm 3 and 4:
resource names, the values schema, shared storage for several replicas, bundled or external
PostgreSQL and Redis, and the S3 redirect default matching Berth's own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.e2e._helm import REPO_ROOT, Helm
from tests.e2e._nginx import NGINX_BINARY

pytestmark = pytest.mark.e2e

CHART = str(REPO_ROOT / "helm" / "berth")
# The kubectl shipped beside helm 4 is 1.33.
KUBERNETES_VERSION = "1.33.0"
REQUIRED = [
    "--set",
    "adminPassword=s3cret-pass",
    "--set",
    "database.url=postgresql://berth:pw@db:5432/berth",
    "--set",
    "redis.url=redis://redis:6379/0",
]


def _render(helm: Helm, *args: str) -> list[dict[str, Any]]:
    out = helm.run("template", "berth", CHART, *args)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _by_kind(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_chart_lints_and_renders(helm: Helm) -> None:
    lint = helm.run("lint", CHART, "--strict", *REQUIRED)
    assert "1 chart(s) linted, 0 chart(s) failed" in lint.stdout
    docs = _by_kind(_render(helm, *REQUIRED))
    assert set(docs) == {
        ("Secret", "berth"),
        ("Service", "berth"),
        ("Deployment", "berth-api"),
        ("Deployment", "berth-worker"),
    }
    api = docs[("Deployment", "berth-api")]
    assert api["spec"]["replicas"] == 2
    env = _env(api)
    # Berth streams blobs unless told to redirect; the chart says the same by default.
    assert env["BERTH_STORAGE__S3__REDIRECT"] == "false"
    assert env["BERTH_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "berth", "key": "admin-password"}
    }
    # Another release name gets the suffix.
    other = _by_kind(
        [d for d in yaml.safe_load_all(helm.run("template", "prod", CHART, *REQUIRED).stdout) if d]
    )
    assert ("Deployment", "prod-berth-api") in other


def test_the_chart_refuses_what_would_not_work(helm: Helm) -> None:
    no_password = helm.run("template", "berth", CHART, *REQUIRED[2:], check=False)
    assert no_password.returncode != 0
    assert "adminPassword is required" in no_password.stderr
    wrong_type = helm.run(
        "template", "berth", CHART, *REQUIRED, "--set", "api.replicas=two", check=False
    )
    assert wrong_type.returncode != 0
    assert "replicas" in wrong_type.stderr
    # Several replicas on filesystem storage without a shared volume: refused.
    unshared = helm.run(
        "template", "berth", CHART, *REQUIRED, "--set", "storage.driver=filesystem", check=False
    )
    assert unshared.returncode != 0
    assert "ReadWriteMany" in unshared.stderr
    single = _by_kind(
        _render(
            helm,
            *REQUIRED,
            "--set",
            "storage.driver=filesystem",
            "--set",
            "api.replicas=1",
            "--set",
            "worker.replicas=0",
        )
    )
    assert single[("Deployment", "berth-api")]["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "emptyDir": {}}
    ]


def test_shared_volume_and_bundled_services(helm: Helm) -> None:
    docs = _by_kind(
        _render(
            helm,
            "--set",
            "adminPassword=s3cret-pass",
            "--set",
            "storage.driver=filesystem",
            "--set",
            "storage.filesystem.persistence.enabled=true",
            "--set",
            "postgresql.enabled=true",
            "--set",
            "postgresql.password=pgpass",
            "--set",
            "redisServer.enabled=true",
        )
    )
    claim = docs[("PersistentVolumeClaim", "berth-blobs")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("berth-api", "berth-worker"):
        volumes = docs[("Deployment", name)]["spec"]["template"]["spec"]["volumes"]
        assert volumes == [{"name": "data", "persistentVolumeClaim": {"claimName": "berth-blobs"}}]
    assert ("StatefulSet", "berth-postgresql") in docs
    assert ("Deployment", "berth-redis") in docs
    secret = docs[("Secret", "berth")]["stringData"]
    assert secret["database-url"] == "postgresql://berth:pgpass@berth-postgresql:5432/berth"
    assert secret["redis-url"] == "redis://berth-redis:6379/0"


def test_rendered_manifests_match_the_kubernetes_schemas(helm: Helm) -> None:
    """Strict validation against the Kubernetes 1.33 resource schemas (offline, from the
    kubernetes-validate package): unknown fields and wrong types fail."""
    renders = [
        _render(helm, *REQUIRED, "--set", "ingress.enabled=true", "--set", "ingress.tlsSecret=t"),
        _render(
            helm,
            "--set",
            "adminPassword=s3cret-pass",
            "--set",
            "storage.driver=filesystem",
            "--set",
            "storage.filesystem.persistence.enabled=true",
            "--set",
            "postgresql.enabled=true",
            "--set",
            "postgresql.password=pgpass",
            "--set",
            "redisServer.enabled=true",
        ),
    ]
    kinds = set()
    for docs in renders:
        for doc in docs:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            kinds.add(doc["kind"])
    assert kinds == {
        "Deployment",
        "Ingress",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
        "StatefulSet",
    }
    # The check itself bites: a misspelt field is refused.
    broken = _render(helm, *REQUIRED)[-1]
    broken["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_notes_say_where_berth_is_and_how_to_log_in(tmp_path: Path) -> None:
    # helm 4 only: helm 3 renders NOTES.txt only at install, which needs a reachable cluster.
    helm = Helm(4, tmp_path)
    out = helm.run("install", "berth", CHART, "--dry-run=client", *REQUIRED).stdout
    notes = out.split("NOTES:", 1)[1]
    assert "berth-api (2 replicas) and berth-worker" in notes
    assert "port-forward service/berth 8080:80" in notes
    assert "helm repo add library https://registry.example.com/chartrepo/library" in notes


def test_nginx_beside_berth_sends_the_blob_files(helm: Helm, tmp_path: Path) -> None:
    filesystem = [
        "--set",
        "adminPassword=s3cret-pass",
        "--set",
        "storage.driver=filesystem",
        "--set",
        "storage.filesystem.persistence.enabled=true",
        "--set",
        "postgresql.enabled=true",
        "--set",
        "postgresql.password=pgpass",
        "--set",
        "redisServer.enabled=true",
    ]
    rendered = _render(helm, *filesystem, "--set", "nginx.enabled=true")
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    docs = _by_kind(rendered)
    api = docs[("Deployment", "berth-api")]
    assert _env(api)["BERTH_NGINX_BLOB_LOCATION"] == "/_berth_storage"
    pod = api["spec"]["template"]["spec"]
    nginx = next(c for c in pod["containers"] if c["name"] == "nginx")
    assert {"name": "data", "mountPath": "/var/lib/berth", "readOnly": True} in nginx[
        "volumeMounts"
    ]
    assert docs[("Service", "berth")]["spec"]["ports"][0]["targetPort"] == "nginx"
    conf = docs[("ConfigMap", "berth-nginx")]["data"]["nginx.conf"]
    # The same internal location as deploy/nginx.conf, over the data volume's storage root.
    location = re.search(r"location /_berth_storage/ \{(.*?)\}", conf, re.DOTALL)
    assert location is not None
    assert "internal;" in location.group(1)
    assert "alias /var/lib/berth/storage/;" in location.group(1)
    # And nginx itself takes the file.
    (tmp_path / "nginx.conf").write_text(conf)
    checked = subprocess.run(
        [NGINX_BINARY, "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    # Off by default: Berth serves its blobs itself and the Service points at it.
    plain = _by_kind(_render(helm, *filesystem))
    assert "BERTH_NGINX_BLOB_LOCATION" not in _env(plain[("Deployment", "berth-api")])
    assert ("ConfigMap", "berth-nginx") not in plain
    refused = helm.run(
        "template", "berth", CHART, *REQUIRED, "--set", "nginx.enabled=true", check=False
    )
    assert refused.returncode != 0
    assert "needs storage.driver=filesystem" in refused.stderr
