"""Small helpers that speak the distribution API the way clients do."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


async def push_blob(client: httpx.AsyncClient, repo: str, data: bytes) -> str:
    digest = digest_of(data)
    r = await client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
    assert r.status_code == 201, r.text
    return digest


def image_manifest(
    config: bytes, layers: list[bytes], media_type: str = OCI_MANIFEST, **extra: Any
) -> bytes:
    config_type = (
        OCI_CONFIG
        if media_type == OCI_MANIFEST
        else ("application/vnd.docker.container.image.v1+json")
    )
    layer_type = (
        OCI_LAYER
        if media_type == OCI_MANIFEST
        else ("application/vnd.docker.image.rootfs.diff.tar.gzip")
    )
    body = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_type, config),
        "layers": [descriptor(layer_type, layer) for layer in layers],
        **extra,
    }
    return json.dumps(body).encode()


async def push_image(
    client: httpx.AsyncClient,
    repo: str,
    tag: str | None = None,
    *,
    seed: str = "x",
    media_type: str = OCI_MANIFEST,
    **extra: Any,
) -> tuple[str, bytes]:
    """Push a config, one layer and a manifest; return (manifest digest, manifest bytes)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer-{seed}".encode() * 100
    await push_blob(client, repo, config)
    await push_blob(client, repo, layer)
    manifest = image_manifest(config, [layer], media_type, **extra)
    digest = digest_of(manifest)
    r = await client.put(
        f"/v2/{repo}/manifests/{tag or digest}",
        content=manifest,
        headers={"Content-Type": media_type},
    )
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == digest
    return digest, manifest


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code
