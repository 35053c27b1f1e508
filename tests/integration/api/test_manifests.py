"""Manifests of every supported type: push, pull, delete, validation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    error_code,
    push_blob,
    push_image,
)

STORAGE_DRIVERS = ("filesystem", "s3")


async def test_oci_image_by_tag_and_digest(berth: Berth) -> None:
    async with berth.client() as c:
        digest, manifest = await push_image(c, "library/app", "v1")
        for ref in ("v1", digest):
            r = await c.get(f"/v2/library/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
            assert r.status_code == 200
            assert r.content == manifest
            assert r.headers["Content-Type"] == OCI_MANIFEST
            assert r.headers["Docker-Content-Digest"] == digest
            head = await c.head(f"/v2/library/app/manifests/{ref}")
            assert head.status_code == 200
            assert head.headers["Content-Length"] == str(len(manifest))
            assert head.content == b""


async def test_docker_schema2_and_manifest_list(berth: Berth) -> None:
    async with berth.client() as c:
        amd, amd_bytes = await push_image(
            c, "library/multi", seed="amd", media_type=DOCKER_MANIFEST
        )
        _arm, arm_bytes = await push_image(
            c, "library/multi", seed="arm", media_type=DOCKER_MANIFEST
        )
        listing = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_LIST,
                "manifests": [
                    descriptor(
                        DOCKER_MANIFEST,
                        amd_bytes,
                        platform={"architecture": "amd64", "os": "linux"},
                    ),
                    descriptor(
                        DOCKER_MANIFEST,
                        arm_bytes,
                        platform={"architecture": "arm64", "os": "linux"},
                    ),
                ],
            }
        ).encode()
        r = await c.put(
            "/v2/library/multi/manifests/latest",
            content=listing,
            headers={"Content-Type": DOCKER_LIST},
        )
        assert r.status_code == 201, r.text
        r = await c.get("/v2/library/multi/manifests/latest")
        assert r.headers["Content-Type"] == DOCKER_LIST
        assert r.content == listing
        r = await c.get(f"/v2/library/multi/manifests/{amd}")
        assert r.headers["Content-Type"] == DOCKER_MANIFEST


async def test_index_needs_its_children_in_the_repository(berth: Berth) -> None:
    async with berth.client() as c:
        _, child = await push_image(c, "library/one", seed="c")
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [descriptor(OCI_MANIFEST, child)],
            }
        ).encode()
        r = await c.put(
            "/v2/library/two/manifests/v1", content=index, headers={"Content-Type": OCI_INDEX}
        )
        assert r.status_code == 400
        assert error_code(r) == "MANIFEST_BLOB_UNKNOWN"
        r = await c.put(
            "/v2/library/one/manifests/v1", content=index, headers={"Content-Type": OCI_INDEX}
        )
        assert r.status_code == 201


async def test_manifest_with_missing_blob_is_refused(berth: Berth) -> None:
    async with berth.client() as c:
        config = b"{}"
        await push_blob(c, "library/app", config)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", b"never pushed")],
            }
        ).encode()
        r = await c.put(
            "/v2/library/app/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 400
        assert error_code(r) == "MANIFEST_BLOB_UNKNOWN"
        assert r.json()["errors"][0]["detail"]["digest"] == digest_of(b"never pushed")
        assert (await c.get("/v2/library/app/manifests/v1")).status_code == 404


async def test_descriptor_sizes_must_match_the_content(berth: Berth) -> None:
    config, layer = b"{}", b"layer bytes" * 100
    async with berth.client() as c:
        await push_blob(c, "library/app", config)
        await push_blob(c, "library/app", layer)
        for config_size, layer_size in ((len(config), 10), (len(config) + 1, len(layer))):
            body = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {**descriptor(OCI_CONFIG, config), "size": config_size},
                    "layers": [{**descriptor(OCI_LAYER, layer), "size": layer_size}],
                }
            ).encode()
            r = await c.put(
                "/v2/library/app/manifests/v1",
                content=body,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status_code == 400, r.text
            assert error_code(r) == "SIZE_INVALID"
        assert (await c.get("/v2/library/app/manifests/v1")).status_code == 404
        _, child = await push_image(c, "library/app", seed="sized")
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [{**descriptor(OCI_MANIFEST, child), "size": len(child) - 1}],
            }
        ).encode()
        r = await c.put(
            "/v2/library/app/manifests/all", content=index, headers={"Content-Type": OCI_INDEX}
        )
        assert r.status_code == 400, r.text
        assert error_code(r) == "SIZE_INVALID"


async def test_invalid_manifests(berth: Berth) -> None:
    async with berth.client() as c:
        cases = [
            b"not json",
            b"[]",
            json.dumps({"schemaVersion": 1}).encode(),
            json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(),
            json.dumps(
                {"schemaVersion": 2, "mediaType": "application/x-unknown", "config": {}}
            ).encode(),
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "a", "digest": "sha256:zz", "size": 1},
                }
            ).encode(),
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": "nope"}).encode(),
        ]
        for body in cases:
            r = await c.put(
                "/v2/library/app/manifests/bad",
                content=body,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status_code == 400, (body, r.text)
            assert error_code(r) == "MANIFEST_INVALID", body
        # mediaType in the body contradicting Content-Type
        _, manifest = await push_image(c, "library/app", "ok")
        r = await c.put(
            "/v2/library/app/manifests/x",
            content=manifest,
            headers={"Content-Type": DOCKER_MANIFEST},
        )
        assert error_code(r) == "MANIFEST_INVALID"
        # digest reference that does not match the body
        r = await c.put(
            f"/v2/library/app/manifests/{digest_of(b'other')}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 400
        assert error_code(r) == "DIGEST_INVALID"
        # invalid tag
        r = await c.put(
            "/v2/library/app/manifests/-bad",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 400
        assert (await c.get("/v2/library/app/manifests/bad")).status_code == 404


async def test_manifest_size_limit(berth: Berth) -> None:
    async with berth.client() as c:
        big = json.dumps({"schemaVersion": 2, "padding": "x" * (4 * 1024 * 1024)}).encode()
        r = await c.put(
            "/v2/library/app/manifests/big", content=big, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 413
        assert error_code(r) == "MANIFEST_INVALID"

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"x" * (1024 * 1024)

        r = await c.put(
            "/v2/library/app/manifests/big",
            content=chunked(),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 413


async def test_artifact_with_empty_config_and_artifact_type(berth: Berth) -> None:
    empty = b"{}"
    payload = b"sbom contents"
    async with berth.client() as c:
        await push_blob(c, "library/art", empty)
        await push_blob(c, "library/art", payload)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/spdx+json",
                "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                "layers": [descriptor("application/spdx+json", payload)],
            }
        ).encode()
        r = await c.put(
            "/v2/library/art/manifests/sbom", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201, r.text


async def test_delete_by_tag_and_by_digest(berth: Berth) -> None:
    async with berth.client() as c:
        digest, _ = await push_image(c, "library/app", "v1")
        r = await c.put(
            "/v2/library/app/manifests/v2",
            content=(await c.get("/v2/library/app/manifests/v1")).content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert (await c.delete("/v2/library/app/manifests/v1")).status_code == 202
        assert (await c.get("/v2/library/app/manifests/v1")).status_code == 404
        assert (await c.get("/v2/library/app/manifests/v2")).status_code == 200
        assert (await c.delete(f"/v2/library/app/manifests/{digest}")).status_code == 202
        r = await c.get(f"/v2/library/app/manifests/{digest}")
        assert r.status_code == 404
        assert error_code(r) == "MANIFEST_UNKNOWN"
        assert (await c.get("/v2/library/app/manifests/v2")).status_code == 404
        assert (await c.delete(f"/v2/library/app/manifests/{digest}")).status_code == 404


async def test_tag_moves_and_concurrent_pushes_of_one_tag(berth: Berth) -> None:
    async with berth.client() as c:
        first, _ = await push_image(c, "library/app", "latest", seed="1")
        second, _ = await push_image(c, "library/app", "latest", seed="2")
        r = await c.get("/v2/library/app/manifests/latest")
        assert r.headers["Docker-Content-Digest"] == second
        results = await asyncio.gather(
            *(push_image(c, "library/race", "same", seed=str(i)) for i in range(10))
        )
        r = await c.get("/v2/library/race/manifests/same")
        assert r.status_code == 200
        assert r.headers["Docker-Content-Digest"] in {d for d, _ in results}
        assert first != second
