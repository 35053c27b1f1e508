"""Which manifests a proxy project's first pull exempts from the pull policies: signatures and
other accessories, as for pulls from the cache."""

from __future__ import annotations

from typing import Any

import pytest

from registry.services.pull_policy import _is_accessory_manifest
from registry.services.signature import SIMPLE_SIGNING

IMAGE_CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json"}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}


@pytest.mark.parametrize(
    ("manifest", "accessory"),
    [
        ({"config": IMAGE_CONFIG, "layers": [LAYER]}, False),
        ({"config": IMAGE_CONFIG, "layers": []}, False),
        ({"config": IMAGE_CONFIG, "layers": [LAYER], "subject": {"digest": "sha256:0"}}, True),
        ({"artifactType": "application/vnd.cncf.notary.signature", "layers": [LAYER]}, True),
        (
            {"config": {"mediaType": "application/vnd.dev.cosign.artifact.sig.v1+json"}},
            True,
        ),
        ({"config": IMAGE_CONFIG, "layers": [{"mediaType": SIMPLE_SIGNING}]}, True),
        ({"config": IMAGE_CONFIG, "layers": [{"mediaType": SIMPLE_SIGNING}, LAYER]}, False),
        ({"config": "not an object", "layers": "nor a list"}, False),
    ],
)
def test_accessories_are_exempt(manifest: dict[str, Any], accessory: bool) -> None:
    assert _is_accessory_manifest(manifest) is accessory
