"""A project's chart repository driven by the real helm 3 and helm 4 clients: a chart signed
with ``helm package --sign`` (a throwaway GnuPG key made here) is uploaded with its
provenance file, then ``helm repo add`` with credentials, ``helm repo update``, ``helm search
repo``, ``helm pull``, ``helm pull --verify``, ``helm template`` and (helm 4, whose client
dry run needs no cluster) ``helm install --dry-run=client`` read it back."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e._helm import Helm
from tests.e2e._jobs import WebhookSink
from tests.e2e._servers import Registry

pytestmark = pytest.mark.e2e

SIGNER = "Berth Chart Signer <charts@berth.example>"


@pytest.fixture(scope="module")
def keyrings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(secret keyring, public keyring) of a new passphrase-less signing key, in the legacy
    format Helm reads."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(*args: str) -> bytes:
        return subprocess.run(
            ["gpg", "--batch", "--yes", *args], env=env, check=True, capture_output=True
        ).stdout

    gpg("--passphrase", "", "--quick-gen-key", SIGNER, "rsa2048", "sign", "never")
    secring = home / "secring.gpg"
    secring.write_bytes(gpg("--export-secret-keys"))
    pubring = home / "pubring.gpg"
    pubring.write_bytes(gpg("--export"))
    return secring, pubring


def _private_project_with_hook(registry: Registry, project: str, address: str) -> None:
    """A private project whose webhook policy sends the chart events to ``address``."""
    with httpx.Client(
        base_url=f"{registry.url}/api/v2.0", auth=(registry.username, registry.password)
    ) as api:
        r = api.post("/projects", json={"project_name": project, "metadata": {"public": "false"}})
        assert r.status_code == 201, r.text
        r = api.post(
            f"/projects/{project}/webhook/policies",
            json={
                "name": "charts",
                "enabled": True,
                "event_types": ["UPLOAD_CHART", "DOWNLOAD_CHART", "DELETE_CHART"],
                "targets": [{"type": "http", "address": address}],
            },
        )
        assert r.status_code == 201, r.text


def _wait_for_events(sink: WebhookSink, wanted: set[str], within: float = 60) -> list[Any]:
    deadline = time.monotonic() + within
    while {e["type"] for e in sink.received} < wanted:
        assert time.monotonic() < deadline, f"webhooks received: {sink.received}"
        time.sleep(0.2)
    return list(sink.received)


def test_helm_reads_a_signed_chart_from_the_chart_repository(
    helm: Helm, registry: Registry, keyrings: tuple[Path, Path]
) -> None:
    with WebhookSink().running() as sink:
        _signed_chart_round_trip(helm, registry, keyrings, sink)


def _signed_chart_round_trip(
    helm: Helm, registry: Registry, keyrings: tuple[Path, Path], sink: WebhookSink
) -> None:
    secring, pubring = keyrings
    project = f"repo-helm{helm.major}"
    _private_project_with_hook(registry, project, sink.address)
    helm.run("create", "webapp")
    dist = helm.root / "dist"
    helm.run(
        "package",
        "webapp",
        "--sign",
        "--key",
        "Berth Chart Signer",
        "--keyring",
        str(secring),
        "--destination",
        str(dist),
    )
    archive = dist / "webapp-0.1.0.tgz"
    prov = dist / "webapp-0.1.0.tgz.prov"
    assert prov.is_file()

    with httpx.Client(base_url=registry.url, auth=(registry.username, registry.password)) as c:
        r = c.post(
            f"/api/chartrepo/{project}/charts",
            files={
                "chart": (archive.name, archive.read_bytes()),
                "prov": (prov.name, prov.read_bytes()),
            },
        )
        assert r.status_code == 201, r.text
        detail = c.get(f"/api/chartrepo/{project}/charts/webapp/0.1.0").json()
        assert detail["security"]["signature"] == {
            "signed": True,
            "prov_file": "webapp-0.1.0.tgz.prov",
        }

    repo_url = f"{registry.url}/chartrepo/{project}"
    refused = helm.run("repo", "add", "nocreds", repo_url, check=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr
    added = helm.run(
        "repo",
        "add",
        "berth",
        repo_url,
        "--username",
        registry.username,
        "--password-stdin",
        input_text=registry.password,
    )
    assert '"berth" has been added' in added.stdout
    updated = helm.run("repo", "update")
    assert "Successfully got an update from the" in updated.stdout
    found = helm.run("search", "repo", "berth/")
    assert "berth/webapp" in found.stdout
    assert "0.1.0" in found.stdout

    pulled = helm.root / "pulled"
    pulled.mkdir()
    helm.run("pull", "berth/webapp", "--version", "0.1.0", "--destination", str(pulled))
    assert (pulled / archive.name).read_bytes() == archive.read_bytes()

    verified = helm.root / "verified"
    verified.mkdir()
    outcome = helm.run(
        "pull",
        "berth/webapp",
        "--verify",
        "--keyring",
        str(pubring),
        "--destination",
        str(verified),
    )
    assert "Signed by: Berth Chart Signer" in outcome.stdout
    assert (verified / prov.name).read_bytes() == prov.read_bytes()

    # A keyring without the signer's key must fail the verification.
    empty = helm.root / "empty.gpg"
    empty.write_bytes(b"")
    unverified = helm.run(
        "pull",
        "berth/webapp",
        "--verify",
        "--keyring",
        str(empty),
        "-d",
        str(verified),
        check=False,
    )
    assert unverified.returncode != 0

    rendered = helm.run("template", "shop", "berth/webapp")
    assert "name: shop-webapp" in rendered.stdout
    assert "kind: Deployment" in rendered.stdout
    if helm.major >= 4:
        # helm 3's install contacts the cluster even with --dry-run=client; helm 4's does not.
        dry_run = helm.run("install", "shop", "berth/webapp", "--dry-run=client")
        assert "STATUS: pending-install" in dry_run.stdout

    with httpx.Client(base_url=registry.url, auth=(registry.username, registry.password)) as c:
        assert c.delete(f"/api/chartrepo/{project}/charts/webapp/0.1.0").status_code == 200
    events = _wait_for_events(sink, {"UPLOAD_CHART", "DOWNLOAD_CHART", "DELETE_CHART"})
    upload = next(e for e in events if e["type"] == "UPLOAD_CHART")
    assert upload["operator"] == registry.username
    assert upload["event_data"]["repository"]["repo_full_name"] == f"{project}/webapp"
    assert upload["event_data"]["resources"][0]["tag"] == "0.1.0"
    assert upload["event_data"]["resources"][0]["resource_url"].endswith(
        f"/chartrepo/{project}/charts/webapp-0.1.0.tgz"
    )
    helm.run("repo", "update")
    assert "No results found" in helm.run("search", "repo", "berth/").stdout
