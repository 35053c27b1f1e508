"""Build OCI content in Python: random gzip'd tar layers, image manifests, a multi-arch index,
and OCI image layouts on disk (index.json, oci-layout, blobs/sha256/…)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def to_json(value: Any) -> bytes:
    """Compact JSON; the exact bytes are what gets digested and compared."""
    return json.dumps(value, separators=(",", ":")).encode()


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def random_layer(files: int = 3, max_file_size: int = 64 * 1024) -> tuple[bytes, str]:
    """A gzip'd tar of random files → (compressed bytes, diff_id of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo("data")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        directory.mtime = 1_700_000_000
        tar.addfile(directory)
        for index in range(files):
            size = 1 + int.from_bytes(os.urandom(4), "big") % max_file_size
            content = os.urandom(size)
            info = tarfile.TarInfo(f"data/file-{index}-{content[:4].hex()}.bin")
            info.size = size
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256(tar_bytes)


@dataclass
class Image:
    """One platform's image: manifest bytes plus every blob it references."""

    architecture: str
    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in json.loads(self.manifest)["layers"]]


def build_image(architecture: str, layer_count: int) -> Image:
    layers = [random_layer() for _ in range(layer_count)]
    config = to_json(
        {
            "created": "2024-01-01T00:00:00Z",
            "architecture": architecture,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth e2e"}]
            * layer_count,
        }
    )
    manifest = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER_GZIP, blob) for blob, _ in layers],
            "annotations": {"org.opencontainers.image.description": f"e2e {architecture}"},
        }
    )
    blobs = {sha256(config): config}
    blobs.update({sha256(blob): blob for blob, _ in layers})
    return Image(architecture, manifest, blobs)


@dataclass
class MultiArch:
    index: bytes
    images: list[Image]

    @property
    def digest(self) -> str:
        return sha256(self.index)

    def all_blobs(self) -> dict[str, bytes]:
        """Every blob of the layout: index, manifests, configs, layers, by digest."""
        blobs = {self.digest: self.index}
        for image in self.images:
            blobs[image.digest] = image.manifest
            blobs.update(image.blobs)
        return blobs


def build_multi_arch() -> MultiArch:
    images = [build_image("amd64", 2), build_image("arm64", 1)]
    index = to_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(
                    OCI_MANIFEST,
                    image.manifest,
                    platform={"architecture": image.architecture, "os": "linux"},
                )
                for image in images
            ],
            "annotations": {"org.opencontainers.image.source": "berth-e2e"},
        }
    )
    return MultiArch(index, images)


def write_layout(
    root: Path, blobs: dict[str, bytes], top: bytes, media_type: str, ref: str
) -> None:
    """Write an OCI image layout whose index.json names ``top`` as ``ref``."""
    blob_dir = root / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    for digest, data in blobs.items():
        (blob_dir / digest.removeprefix("sha256:")).write_bytes(data)
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "manifests": [descriptor(media_type, top, annotations={REF_NAME: ref})],
    }
    (root / "index.json").write_text(json.dumps(index))


def read_layout(root: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(index.json, {digest: bytes}) of a layout; every blob is checked against its name."""
    index = json.loads((root / "index.json").read_text())
    blobs: dict[str, bytes] = {}
    for path in (root / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        digest = f"sha256:{path.name}"
        assert sha256(data) == digest, f"{path} holds content whose digest is {sha256(data)}"
        blobs[digest] = data
    return index, blobs
