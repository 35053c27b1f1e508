"""Parsing and validating manifests (OCI image manifest and index, Docker schema2 and list)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from registry.oci import mediatypes
from registry.oci.digest import Digest, InvalidDigestError


class InvalidManifestError(ValueError):
    """The body is not a manifest Berth accepts; the message says why."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    urls: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    raw: dict[str, Any]
    blobs: list[Descriptor] = field(default_factory=list)
    children: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    config_media_type: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEXES


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidManifestError(f"{where} is not a descriptor object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifestError(f"{where}.mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise InvalidManifestError(f"{where}.digest must be a string")
    try:
        Digest.parse(digest)
    except InvalidDigestError as exc:
        raise InvalidManifestError(f"{where}.digest: {exc}") from None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidManifestError(f"{where}.size must be a non-negative integer")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise InvalidManifestError(f"{where}.platform must be an object")
    urls = value.get("urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        raise InvalidManifestError(f"{where}.urls must be a list of strings")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifestError(f"{where}.artifactType must be a string")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        artifact_type=artifact_type,
        annotations=_annotations(value.get("annotations"), f"{where}.annotations"),
        urls=urls,
    )


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidManifestError(f"{where} must map strings to strings")
    return value


def _media_type(body: dict[str, Any], content_type: str | None) -> str:
    declared = body.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifestError("mediaType must be a string")
    header = (content_type or "").split(";", 1)[0].strip().lower() or None
    if header in ("application/json", "application/octet-stream"):
        header = None
    if declared and header and declared != header:
        raise InvalidManifestError(f"mediaType {declared!r} does not match Content-Type {header!r}")
    # Helm and some older clients omit mediaType: the PUT's Content-Type then decides, and
    # failing that the shape of the document does.
    media_type = declared or header
    if media_type is None:
        media_type = mediatypes.OCI_INDEX if "manifests" in body else mediatypes.OCI_MANIFEST
    if media_type not in mediatypes.MANIFESTS:
        raise InvalidManifestError(f"unsupported manifest media type {media_type!r}")
    return media_type


# Real manifests nest a handful of levels; anything deeper is refused before it can exhaust
# the stack of whatever reads it later.
MAX_DEPTH = 64


def _check_text(body: Any) -> None:
    """Refuse what the database cannot store and what no manifest needs: strings (keys too)
    holding NUL or lone surrogates (valid as JSON escapes, not as UTF-8), and deep nesting.
    Iterative, so no document can exhaust the stack here."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise InvalidManifestError(f"manifest nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_string(key)
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_string(value)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise InvalidManifestError("manifest contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidManifestError("manifest contains a lone surrogate character") from None


def parse_manifest(data: bytes, content_type: str | None) -> Manifest:
    """Parse and validate ``data``; raise InvalidManifestError with the reason."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise InvalidManifestError("manifest is not valid JSON") from None
    except RecursionError:
        raise InvalidManifestError(f"manifest nests deeper than {MAX_DEPTH} levels") from None
    _check_text(body)
    if not isinstance(body, dict):
        raise InvalidManifestError("manifest must be a JSON object")
    if body.get("schemaVersion") != 2:
        raise InvalidManifestError("schemaVersion must be 2")
    media_type = _media_type(body, content_type)
    subject = _descriptor(body["subject"], "subject") if "subject" in body else None
    annotations = _annotations(body.get("annotations"), "annotations")
    artifact_type = body.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifestError("artifactType must be a string")

    if media_type in mediatypes.INDEXES:
        entries = body.get("manifests")
        if not isinstance(entries, list):
            raise InvalidManifestError("manifests must be a list")
        children = [_descriptor(d, f"manifests[{i}]") for i, d in enumerate(entries)]
        return Manifest(
            media_type=media_type,
            raw=body,
            children=children,
            subject=subject,
            artifact_type=artifact_type,
            annotations=annotations,
        )

    if "config" not in body:
        raise InvalidManifestError("an image manifest needs a config descriptor")
    config = _descriptor(body["config"], "config")
    layers_raw = body.get("layers", [])
    if not isinstance(layers_raw, list):
        raise InvalidManifestError("layers must be a list")
    layers = [_descriptor(d, f"layers[{i}]") for i, d in enumerate(layers_raw)]
    return Manifest(
        media_type=media_type,
        raw=body,
        # Foreign layers (with urls) live elsewhere and are never pushed, so they are not
        # required to exist here.
        blobs=[config, *(layer for layer in layers if not layer.urls)],
        subject=subject,
        config_media_type=config.media_type,
        # The referrers API reports the config type when no artifactType is declared.
        artifact_type=artifact_type or config.media_type,
        annotations=annotations,
    )
