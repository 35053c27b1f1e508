"""Signatures of artifacts: cosign (tag mode ``sha256-<hex>.sig`` and OCI 1.1 subject mode,
the sigstore bundle v0.3 included) and notation, and the optional check of cosign signatures
against a project's public keys (ECDSA P-256 over the simple-signing payload, or over what a
sigstore bundle signs)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from registry.auth.principal import Principal
from registry.db import artifacts, cosign_keys
from registry.oci.digest import Digest
from registry.rbac import ProjectRef
from registry.services import sigstore_bundle
from registry.services.artifact import accessory_type
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ResourceExists, ResourceUnknown
from registry.storage import layout

COSIGN = "signature.cosign"
NOTATION = "signature.notation"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
# Payloads are a few hundred bytes; anything much bigger is not one.
_MAX_PAYLOAD_BYTES = 64 * 1024
# A bundle holds a certificate chain and log entries besides the signature: a few KiB.
_MAX_BUNDLE_BYTES = 1024 * 1024


def tag_mode_name(digest: str) -> str:
    """Where cosign's tag mode stores the signature of ``digest``."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"{algorithm}-{hex_digest}.sig"


def is_signature_tag(reference: str) -> bool:
    return reference.startswith("sha256-") and reference.endswith((".sig", ".att", ".sbom"))


async def signatures(b: Backends, artifact: asyncpg.Record, kind: str) -> list[asyncpg.Record]:
    rows = await artifacts.accessories_of(b.db, artifact["repository_id"], artifact["digest"])
    return [r for r in rows if accessory_type(r["artifact_type"]) == kind]


def _load_key(pem: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise InvalidRequest("public_key must be a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidRequest("public_key must be an ECDSA P-256 key (cosign's default)")
    return key


def _payload_names(payload: bytes, subject_digest: str) -> bool:
    try:
        body = json.loads(payload)
        return bool(body["critical"]["image"]["docker-manifest-digest"] == subject_digest)
    except (ValueError, KeyError, TypeError):
        return False


async def _blob(b: Backends, layer: dict[str, Any], limit: int) -> bytes | None:
    try:
        if int(layer.get("size", 0)) > limit:
            return None
        content: bytes = await b.storage.get_content(
            layout.blob_path(Digest.parse(str(layer["digest"])))
        )
    except (ValueError, KeyError, TypeError, OSError):
        return None
    return content


def _simple_signing_verifies(
    layer: dict[str, Any],
    payload: bytes,
    subject_digest: str,
    keys: list[ec.EllipticCurvePublicKey],
) -> bool:
    encoded = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
    if not isinstance(encoded, str) or not _payload_names(payload, subject_digest):
        return False
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    for key in keys:
        try:
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return True
    return False


async def _verifies(
    b: Backends, signature_id: int, subject_digest: str, keys: list[ec.EllipticCurvePublicKey]
) -> bool:
    """Whether one layer of the signature artifact (a simple-signing payload, or a sigstore
    bundle) names the subject and is signed by one of ``keys``."""
    raw = await artifacts.manifest_of(b.db, signature_id)
    try:
        manifest: dict[str, Any] = json.loads(raw or "{}")
    except ValueError:
        return False
    for layer in manifest.get("layers") or []:
        if not isinstance(layer, dict):
            continue
        if layer.get("mediaType") == SIMPLE_SIGNING:
            payload = await _blob(b, layer, _MAX_PAYLOAD_BYTES)
            if payload is not None and _simple_signing_verifies(
                layer, payload, subject_digest, keys
            ):
                return True
        elif layer.get("mediaType") == sigstore_bundle.BUNDLE_V03:
            bundle = await _blob(b, layer, _MAX_BUNDLE_BYTES)
            if bundle is not None and sigstore_bundle.verifies(bundle, subject_digest, keys):
                return True
    return False


async def is_signed(
    b: Backends, project: ProjectRef, artifact: asyncpg.Record, kind: str = COSIGN
) -> bool:
    """Whether the artifact carries a signature of ``kind``; for cosign, when the project holds
    public keys, one that verifies against them."""
    found = await signatures(b, artifact, kind)
    if not found or kind != COSIGN:
        return bool(found)
    rows = await cosign_keys.list_keys(b.db, project.id)
    if not rows:
        return True
    keys = [_load_key(r["public_key"]) for r in rows]
    for row in found:
        if await _verifies(b, row["id"], artifact["digest"], keys):
            return True
    return False


async def signed(b: Backends, project: ProjectRef, artifact: asyncpg.Record) -> bool:
    """Harbor's ``is_signed``: a notation signature, or a cosign one (that verifies against
    the project's keys, when it holds any)."""
    return await is_signed(b, project, artifact, NOTATION) or await is_signed(
        b, project, artifact, COSIGN
    )


async def list_keys(b: Backends, project: ProjectRef) -> list[asyncpg.Record]:
    return await cosign_keys.list_keys(b.db, project.id)


async def add_key(
    b: Backends, actor: Principal, project: ProjectRef, name: str, public_key: str
) -> int:
    _load_key(public_key)
    if not name or len(name) > 255:
        raise InvalidRequest("name must be 1 to 255 characters")
    key_id = await cosign_keys.add(b.db, project.id, name, public_key.strip() + "\n")
    if key_id is None:
        raise ResourceExists(f"the project has a key named {name} already")
    await b.audit.record(
        AuditEvent("create", "cosign_key", f"{project.name}:{name}", actor.name, project.id)
    )
    return key_id


async def delete_key(b: Backends, actor: Principal, project: ProjectRef, key_id: int) -> None:
    if not await cosign_keys.delete(b.db, project.id, key_id):
        raise ResourceUnknown(f"no cosign key {key_id} in project {project.name}")
    await b.audit.record(
        AuditEvent("delete", "cosign_key", f"{project.name}:{key_id}", actor.name, project.id)
    )
