"""oras (the Python package) pushes an image-like artifact and artifacts whose ``subject``
points at it; the OCI 1.1 referrers API lists them and filters them by artifactType."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import oras.client
import oras.oci
import pytest

from tests.e2e._http import describe, expect
from tests.e2e._oci import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, sha256
from tests.e2e._servers import Registry

pytestmark = pytest.mark.e2e

REPOSITORY = "library/e2e-oras"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"
OTHER_TYPE = "application/vnd.example.other.v1+json"


def _oras(registry: Registry) -> Any:
    """An oras client sending Basic credentials with every request.

    oras-py's token backend fetches a new token only after a 403, while registries (Berth,
    Distribution) answer a token lacking a scope with 401 insufficient_scope; with Harbor too,
    oras-py users rely on Basic credentials being accepted on /v2/, as Berth does.
    """
    client = oras.client.OrasClient(hostname=registry.host, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth(registry.username, registry.password)
    return client


def _pushed_digest(response: Any, what: str) -> str:
    assert response.status_code == 201, f"{what}: {response.status_code} {response.text}"
    digest = response.headers.get("Docker-Content-Digest")
    assert digest, f"{what}: no Docker-Content-Digest in {dict(response.headers)}"
    return str(digest)


def _push_with_explicit_artifact_type(
    client: Any, tmp_path: Path, target: str, subject: oras.oci.Subject
) -> tuple[str, dict[str, Any]]:
    """An OCI 1.1 artifact manifest (artifactType field, empty config), uploaded with oras."""
    container = client.get_container(target)
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps({"signed": subject.digest}))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")

    layer = oras.oci.NewLayer(str(signature), media_type=SIGNATURE_TYPE)
    config = oras.oci.NewLayer(str(empty), media_type=OCI_EMPTY)
    for path, descriptor in ((signature, layer), (empty, config)):
        response = client.upload_blob(str(path), container, descriptor)
        assert response.status_code in (200, 201), f"blob upload: {response.status_code}"

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE_TYPE,
        "config": config,
        "layers": [layer],
        "subject": {"mediaType": subject.mediaType, "digest": subject.digest, "size": subject.size},
        "annotations": {"org.example.signer": "e2e", "org.example.kind": "signature"},
    }
    digest = _pushed_digest(client.upload_manifest(manifest, container), "signature manifest")
    return digest, manifest


def test_oras_push_with_subject_and_referrers(registry: Registry, tmp_path: Path) -> None:
    client = _oras(registry)

    # The subject: an image-ish artifact with a config and a tar+gzip layer.
    layer_file = tmp_path / "rootfs.tar.gz"
    layer_file.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 40)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}))
    image = client.push(
        target=f"{registry.host}/{REPOSITORY}:image",
        files=[f"{layer_file}:application/vnd.oci.image.layer.v1.tar+gzip"],
        manifest_config=f"{config_file}:application/vnd.oci.image.config.v1+json",
        manifest_annotations={"org.opencontainers.image.title": "e2e image"},
        disable_path_validation=True,
        quiet=True,
    )
    image_digest = _pushed_digest(image, "subject image")
    with registry.client() as http:
        image_bytes = expect(
            http.get(
                f"/v2/{REPOSITORY}/manifests/{image_digest}", headers={"Accept": OCI_MANIFEST}
            ),
            200,
        ).content
    assert sha256(image_bytes) == image_digest
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=image_digest, size=len(image_bytes))

    # Referrer 1: oras push with a subject; its artifactType is its config's media type.
    sbom_file = tmp_path / "sbom.spdx.json"
    sbom_file.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "e2e"}))
    sbom_config = tmp_path / "sbom-config.json"
    sbom_config.write_text(json.dumps({"generator": "berth-e2e"}))
    sbom_annotations = {"org.example.sbom.format": "spdx", "org.example.kind": "sbom"}
    sbom = client.push(
        target=f"{registry.host}/{REPOSITORY}:sbom",
        files=[f"{sbom_file}:application/spdx+json"],
        manifest_config=f"{sbom_config}:{SBOM_TYPE}",
        manifest_annotations=sbom_annotations,
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    sbom_digest = _pushed_digest(sbom, "sbom referrer")
    stored = client.get_manifest(f"{registry.host}/{REPOSITORY}@{sbom_digest}")
    assert stored["subject"]["digest"] == image_digest

    # Referrer 2: an explicit artifactType with the empty config.
    signature_digest, signature_manifest = _push_with_explicit_artifact_type(
        client, tmp_path, f"{registry.host}/{REPOSITORY}:signature", subject
    )
    with registry.client() as http:
        fetched = expect(
            http.get(
                f"/v2/{REPOSITORY}/manifests/{signature_digest}", headers={"Accept": OCI_MANIFEST}
            ),
            200,
        )
        assert sha256(fetched.content) == signature_digest
        assert json.loads(fetched.content)["artifactType"] == SIGNATURE_TYPE

        referrers_url = f"/v2/{REPOSITORY}/referrers/{image_digest}"
        listed = http.get(referrers_url)
        if not registry.supports_referrers:
            # Distribution 2.8 predates the referrers API.
            expect(listed, 404)
            return

        expect(listed, 200)
        assert listed.headers.get("content-type", "").startswith(OCI_INDEX), describe(listed)
        index = listed.json()
        assert index["schemaVersion"] == 2, describe(listed)
        assert index.get("mediaType") == OCI_INDEX, describe(listed)
        by_digest = {entry["digest"]: entry for entry in index["manifests"]}
        assert set(by_digest) == {sbom_digest, signature_digest}, describe(listed)
        assert by_digest[sbom_digest]["artifactType"] == SBOM_TYPE, describe(listed)
        assert by_digest[sbom_digest]["annotations"] == sbom_annotations, describe(listed)
        assert by_digest[sbom_digest]["mediaType"] == OCI_MANIFEST, describe(listed)
        assert by_digest[signature_digest]["artifactType"] == SIGNATURE_TYPE, describe(listed)
        assert by_digest[signature_digest]["annotations"] == signature_manifest["annotations"], (
            describe(listed)
        )
        assert by_digest[signature_digest]["size"] == len(fetched.content), describe(listed)

        only_sbom = expect(http.get(referrers_url, params={"artifactType": SBOM_TYPE}), 200)
        assert only_sbom.headers.get("oci-filters-applied") == "artifactType", describe(only_sbom)
        assert [e["digest"] for e in only_sbom.json()["manifests"]] == [sbom_digest], describe(
            only_sbom
        )

        other = expect(http.get(referrers_url, params={"artifactType": OTHER_TYPE}), 200)
        assert other.headers.get("oci-filters-applied") == "artifactType", describe(other)
        assert other.json()["manifests"] == [], describe(other)

        # A digest nothing refers to has an empty list, not an error.
        nobody = expect(http.get(f"/v2/{REPOSITORY}/referrers/{sbom_digest}"), 200)
        assert nobody.json()["manifests"] == [], describe(nobody)
