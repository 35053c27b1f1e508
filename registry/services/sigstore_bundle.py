"""Checking a sigstore bundle (v0.3, cosign v3's OCI 1.1 signatures) against public keys.

A bundle signs either a DSSE envelope (cosign's image signatures: an in-toto statement whose
subject is the image's digest, signed over DSSE's pre-authentication encoding) or a message
digest (the signed artifact's SHA-256, here the image manifest's). Only the signature and what
it names are checked: certificates, transparency-log entries and timestamps are not, since a
project's keys are the trust root here.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature is made over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _signed_by(
    signature: bytes, data: bytes, keys: list[ec.EllipticCurvePublicKey], prehashed: bool
) -> bool:
    algorithm = ec.ECDSA(Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256())
    for key in keys:
        try:
            key.verify(signature, data, algorithm)
        except InvalidSignature:
            continue
        return True
    return False


def _statement_names(payload: bytes, hex_digest: str) -> bool:
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        return any(
            isinstance(s, dict) and (s.get("digest") or {}).get("sha256") == hex_digest
            for s in subjects
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _dsse_verifies(envelope: Any, hex_digest: str, keys: list[ec.EllipticCurvePublicKey]) -> bool:
    if not isinstance(envelope, dict) or envelope.get("payloadType") != IN_TOTO:
        return False
    payload = _b64(envelope.get("payload"))
    if payload is None or not _statement_names(payload, hex_digest):
        return False
    signed = pae(IN_TOTO, payload)
    for entry in envelope.get("signatures") or []:
        signature = _b64(entry.get("sig")) if isinstance(entry, dict) else None
        if signature is not None and _signed_by(signature, signed, keys, prehashed=False):
            return True
    return False


def _message_verifies(message: Any, hex_digest: str, keys: list[ec.EllipticCurvePublicKey]) -> bool:
    if not isinstance(message, dict):
        return False
    digest = message.get("messageDigest") or {}
    if not isinstance(digest, dict) or digest.get("algorithm") != "SHA2_256":
        return False
    value, signature = _b64(digest.get("digest")), _b64(message.get("signature"))
    if value is None or signature is None or value.hex() != hex_digest:
        return False
    return _signed_by(signature, value, keys, prehashed=True)


def verifies(raw: bytes, subject_digest: str, keys: list[ec.EllipticCurvePublicKey]) -> bool:
    """Whether the bundle ``raw`` signs ``subject_digest`` (``sha256:<hex>``) with one of
    ``keys``."""
    algorithm, _, hex_digest = subject_digest.partition(":")
    if algorithm != "sha256":
        return False
    try:
        bundle = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_V03:
        return False
    if "dsseEnvelope" in bundle:
        return _dsse_verifies(bundle["dsseEnvelope"], hex_digest, keys)
    return _message_verifies(bundle.get("messageSignature"), hex_digest, keys)
