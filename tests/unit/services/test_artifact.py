"""Harbor's artifact types and accessory types, read from media types."""

from __future__ import annotations

import pytest

from registry.oci import mediatypes
from registry.services.artifact import accessory_type, kind_for


@pytest.mark.parametrize(
    ("media_type", "config", "kind"),
    [
        (mediatypes.OCI_MANIFEST, "application/vnd.oci.image.config.v1+json", "IMAGE"),
        (mediatypes.DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json", "IMAGE"),
        # An index is an image whatever it holds.
        (mediatypes.OCI_INDEX, None, "IMAGE"),
        (mediatypes.DOCKER_MANIFEST_LIST, None, "IMAGE"),
        (mediatypes.OCI_MANIFEST, "application/vnd.cncf.helm.config.v1+json", "CHART"),
        (mediatypes.OCI_MANIFEST, "application/vnd.cnab.config.v1+json", "CNAB"),
        (mediatypes.OCI_MANIFEST, mediatypes.OCI_EMPTY, "UNKNOWN"),
        (mediatypes.OCI_MANIFEST, None, "UNKNOWN"),
    ],
)
def test_the_artifact_type(media_type: str, config: str | None, kind: str) -> None:
    assert kind_for(media_type, config) == kind


@pytest.mark.parametrize(
    ("artifact_type", "accessory"),
    [
        ("application/vnd.dev.cosign.artifact.sig.v1+json", "signature.cosign"),
        ("application/vnd.cncf.notary.signature", "signature.notation"),
        ("application/vnd.goharbor.harbor.sbom.v1", "harbor.sbom"),
        ("application/vnd.dev.sigstore.bundle.v0.3+json", "signature.cosign"),
        ("application/vnd.dev.cosign.artifact.att.v1+json", "attestation.cosign"),
        ("application/vnd.dev.cosign.artifact.sbom.v1+json", "sbom.cosign"),
        ("application/spdx+json", "subject.accessory"),
        (None, "subject.accessory"),
    ],
)
def test_the_accessory_type(artifact_type: str | None, accessory: str) -> None:
    assert accessory_type(artifact_type) == accessory
