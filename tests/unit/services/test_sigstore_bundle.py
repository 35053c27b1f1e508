"""Sigstore bundles (v0.3) checked against ECDSA P-256 keys: DSSE envelopes of in-toto
statements and message signatures, made here with a generated key."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from registry.services.sigstore_bundle import BUNDLE_V03, IN_TOTO, pae, verifies

MANIFEST = b'{"schemaVersion": 2}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _dsse(key: ec.EllipticCurvePrivateKey, digest: str, payload_type: str = IN_TOTO) -> bytes:
    statement = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": digest.removeprefix("sha256:")}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
        }
    ).encode()
    signature = key.sign(pae(IN_TOTO, statement), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payload": _b64(statement),
        "payloadType": payload_type,
        "signatures": [{"sig": _b64(b"not a signature")}, {"sig": _b64(signature)}],
    }
    return json.dumps({"mediaType": BUNDLE_V03, "dsseEnvelope": envelope}).encode()


def _message(key: ec.EllipticCurvePrivateKey, content: bytes) -> bytes:
    digest = hashlib.sha256(content).digest()
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    message = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
        "signature": _b64(signature),
    }
    return json.dumps({"mediaType": BUNDLE_V03, "messageSignature": message}).encode()


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_pae_is_dsse_pre_authentication_encoding() -> None:
    assert pae("t", b"body") == b"DSSEv1 1 t 4 body"


def test_a_dsse_bundle_verifies_with_its_key_only(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    bundle = _dsse(key, DIGEST)
    assert verifies(bundle, DIGEST, [other.public_key(), key.public_key()])
    assert not verifies(bundle, DIGEST, [other.public_key()])
    assert not verifies(bundle, DIGEST, [])


def test_a_dsse_bundle_must_name_the_subject(key: ec.EllipticCurvePrivateKey) -> None:
    elsewhere = "sha256:" + "0" * 64
    assert not verifies(_dsse(key, elsewhere), DIGEST, [key.public_key()])
    assert not verifies(_dsse(key, DIGEST, "text/plain"), DIGEST, [key.public_key()])
    assert not verifies(_dsse(key, DIGEST), "sha512:" + "0" * 128, [key.public_key()])


def test_a_message_signature_bundle(key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    assert verifies(_message(key, MANIFEST), DIGEST, [key.public_key()])
    assert not verifies(_message(other, MANIFEST), DIGEST, [key.public_key()])
    assert not verifies(_message(key, b"something else"), DIGEST, [key.public_key()])


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1"}).encode(),
        json.dumps({"mediaType": BUNDLE_V03, "messageSignature": {}}).encode(),
        json.dumps({"mediaType": BUNDLE_V03, "messageSignature": "x"}).encode(),
        json.dumps({"mediaType": BUNDLE_V03, "dsseEnvelope": {"payloadType": IN_TOTO}}).encode(),
        json.dumps(
            {
                "mediaType": BUNDLE_V03,
                "dsseEnvelope": {"payloadType": IN_TOTO, "payload": _b64(b"{}")},
            }
        ).encode(),
        json.dumps(
            {
                "mediaType": BUNDLE_V03,
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": "%%%"},
                    "signature": "c2ln",
                },
            }
        ).encode(),
    ],
)
def test_malformed_bundles_never_verify(raw: bytes, key: ec.EllipticCurvePrivateKey) -> None:
    assert not verifies(raw, DIGEST, [key.public_key()])
