"""skopeo: a multi-arch OCI index copied in and out with digests preserved, and converted to
Docker schema 2 on the way in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e._http import MANIFEST_ACCEPT, describe, expect
from tests.e2e._oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    build_multi_arch,
    read_layout,
    sha256,
    write_layout,
)
from tests.e2e._servers import Registry
from tests.e2e._tools import Toolbox

pytestmark = pytest.mark.e2e


def test_oci_index_round_trip_preserves_every_digest(
    registry: Registry, toolbox: Toolbox, tmp_path: Path
) -> None:
    multi = build_multi_arch()
    source = tmp_path / "source"
    write_layout(source, multi.all_blobs(), multi.index, OCI_INDEX, "multi")
    remote = f"docker://{registry.host}/library/e2e-skopeo:multi"

    toolbox.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-creds",
            registry.creds,
            "--dest-tls-verify=false",
            f"oci:{source}:multi",
            remote,
        ]
    )

    raw = toolbox.run(
        ["skopeo", "inspect", "--raw", "--creds", registry.creds, "--tls-verify=false", remote]
    )
    assert raw.stdout == multi.index, (
        f"registry serves an index with digest {sha256(raw.stdout)}, pushed {multi.digest}\n"
        f"served: {raw.text[:2000]}"
    )

    with registry.client() as client:
        head = expect(
            client.head(
                "/v2/library/e2e-skopeo/manifests/multi", headers={"Accept": MANIFEST_ACCEPT}
            ),
            200,
        )
        assert head.headers.get("docker-content-digest") == multi.digest, describe(head)
        assert head.headers.get("content-type") == OCI_INDEX, describe(head)
        for image in multi.images:
            by_digest = expect(
                client.get(
                    f"/v2/library/e2e-skopeo/manifests/{image.digest}",
                    headers={"Accept": MANIFEST_ACCEPT},
                ),
                200,
            )
            assert by_digest.content == image.manifest, describe(by_digest)

    copy_back = tmp_path / "copy-back"
    toolbox.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--preserve-digests",
            "--src-creds",
            registry.creds,
            "--src-tls-verify=false",
            remote,
            f"oci:{copy_back}:multi",
        ]
    )
    index, blobs = read_layout(copy_back)
    [top] = index["manifests"]
    assert top["digest"] == multi.digest
    assert top["mediaType"] == OCI_INDEX
    original = multi.all_blobs()
    assert set(blobs) == set(original), (
        f"missing after the round trip: {sorted(set(original) - set(blobs))}; "
        f"unexpected: {sorted(set(blobs) - set(original))}"
    )
    for digest, data in original.items():
        assert blobs[digest] == data, digest


def test_docker_schema2_manifest_list(registry: Registry, toolbox: Toolbox, tmp_path: Path) -> None:
    multi = build_multi_arch()
    source = tmp_path / "source"
    write_layout(source, multi.all_blobs(), multi.index, OCI_INDEX, "multi")
    remote = f"docker://{registry.host}/library/e2e-skopeo-v2s2:list"

    toolbox.run(
        [
            "skopeo",
            "copy",
            "--all",
            "--format",
            "v2s2",
            "--dest-creds",
            registry.creds,
            "--dest-tls-verify=false",
            f"oci:{source}:multi",
            remote,
        ]
    )

    raw = toolbox.run(
        ["skopeo", "inspect", "--raw", "--creds", registry.creds, "--tls-verify=false", remote]
    )
    listing = json.loads(raw.stdout)
    assert listing["mediaType"] == DOCKER_LIST, raw.text

    with registry.client() as client:
        top = expect(
            client.get(
                "/v2/library/e2e-skopeo-v2s2/manifests/list", headers={"Accept": MANIFEST_ACCEPT}
            ),
            200,
        )
        assert top.headers.get("content-type") == DOCKER_LIST, describe(top)
        assert top.content == raw.stdout, describe(top)
        assert top.headers.get("docker-content-digest") == sha256(top.content), describe(top)

        by_arch = {entry["platform"]["architecture"]: entry for entry in listing["manifests"]}
        assert set(by_arch) == {"amd64", "arm64"}
        for image in multi.images:
            entry = by_arch[image.architecture]
            assert entry["mediaType"] == DOCKER_MANIFEST, entry
            child = expect(
                client.get(
                    f"/v2/library/e2e-skopeo-v2s2/manifests/{entry['digest']}",
                    headers={"Accept": MANIFEST_ACCEPT},
                ),
                200,
            )
            assert child.headers.get("content-type") == DOCKER_MANIFEST, describe(child)
            assert sha256(child.content) == entry["digest"], describe(child)
            manifest = json.loads(child.content)
            assert manifest["mediaType"] == DOCKER_MANIFEST
            assert manifest["config"]["mediaType"] == DOCKER_CONFIG
            assert [layer["mediaType"] for layer in manifest["layers"]] == [
                DOCKER_LAYER_GZIP
            ] * len(image.layer_digests)
            # Conversion relabels the layers; the compressed bytes are the same blobs.
            assert [layer["digest"] for layer in manifest["layers"]] == image.layer_digests
            for layer_digest in image.layer_digests:
                blob = expect(client.get(f"/v2/library/e2e-skopeo-v2s2/blobs/{layer_digest}"), 200)
                assert blob.content == image.blobs[layer_digest], describe(blob)
