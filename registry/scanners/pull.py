"""Reading an image from a registry for a scan: its manifest, then each layer as a stream.

The registry hands the scanner a credential (``Authorization`` header value) good for pulling
that one repository; it is sent to the registry's host only (redirects to a blob store carry
none).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from registry.scanners.inventory import Filesystem

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class PullError(Exception):
    """The image could not be read from the registry; the message says why."""


class _StreamReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks (what ``tarfile`` streams from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class RegistryReader:
    def __init__(self, url: str, authorization: str, *, timeout: float = 300.0) -> None:
        headers = {"Authorization": authorization} if authorization else {}
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, follow_redirects=True
        )

    def close(self) -> None:
        self._client.close()

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any], bytes]:
        accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
        response = self._client.get(
            f"/v2/{repository}/manifests/{reference}", headers={"Accept": accept}
        )
        if response.status_code != 200:
            raise PullError(f"GET manifest {repository}@{reference}: {response.status_code}")
        body = json.loads(response.content)
        media_type = body.get("mediaType") or response.headers.get("content-type", "")
        return str(media_type).split(";")[0], body, response.content

    def image_manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], bytes]:
        """The image manifest (parsed, and its bytes), choosing linux/amd64 (or the first
        image) from an index."""
        media_type, body, raw = self.manifest(repository, reference)
        if media_type in INDEX_TYPES or "manifests" in body:
            children = body.get("manifests") or []
            if not children:
                raise PullError("the index lists no image")
            chosen = next(
                (
                    c
                    for c in children
                    if (c.get("platform") or {}).get("architecture") == "amd64"
                    and (c.get("platform") or {}).get("os") == "linux"
                ),
                children[0],
            )
            _, body, raw = self.manifest(repository, chosen["digest"])
        return body, raw

    def apply_layers(self, repository: str, manifest: dict[str, Any], fs: Filesystem) -> None:
        for layer in manifest.get("layers") or []:
            media_type = str(layer.get("mediaType", ""))
            if "tar" not in media_type:
                continue  # not a filesystem layer (an artifact's payload)
            digest = layer["digest"]
            with self._client.stream("GET", f"/v2/{repository}/blobs/{digest}") as response:
                if response.status_code != 200:
                    raise PullError(f"GET blob {digest}: {response.status_code}")
                fs.apply_layer(io.BufferedReader(_StreamReader(response.iter_bytes(1024 * 1024))))

    def save_layout(
        self, repository: str, manifest: dict[str, Any], raw: bytes, root: Path
    ) -> None:
        """Write the image as an OCI layout under ``root``, each blob streamed to its file."""
        blobs = root / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        (blobs / digest.removeprefix("sha256:")).write_bytes(raw)
        for descriptor in [manifest.get("config") or {}, *(manifest.get("layers") or [])]:
            blob = str(descriptor.get("digest", ""))
            if not blob.startswith("sha256:") or len(blob) != 71:
                raise PullError(f"unsupported blob digest {blob!r}")
            with self._client.stream("GET", f"/v2/{repository}/blobs/{blob}") as response:
                if response.status_code != 200:
                    raise PullError(f"GET blob {blob}: {response.status_code}")
                with (blobs / blob.removeprefix("sha256:")).open("wb") as out:
                    for chunk in response.iter_bytes(1024 * 1024):
                        out.write(chunk)
        media_type = manifest.get("mediaType") or MANIFEST_TYPES[0]
        index = {
            "schemaVersion": 2,
            "manifests": [{"mediaType": media_type, "digest": digest, "size": len(raw)}],
        }
        (root / "index.json").write_text(json.dumps(index))
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
