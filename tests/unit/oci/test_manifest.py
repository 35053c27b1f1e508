from __future__ import annotations

import json

import pytest

from registry.oci import mediatypes
from registry.oci.manifest import InvalidManifestError, parse_manifest

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def _image(**extra: object) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": DIGEST,
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": OTHER, "size": 9}
        ],
        **extra,
    }
    return json.dumps(body).encode()


def test_image_manifest_lists_config_and_layers_as_blobs() -> None:
    m = parse_manifest(_image(), None)
    assert m.media_type == mediatypes.OCI_MANIFEST
    assert [b.digest for b in m.blobs] == [DIGEST, OTHER]
    assert m.artifact_type == "application/vnd.oci.image.config.v1+json"
    assert not m.is_index


def test_declared_artifact_type_wins_over_config_type() -> None:
    m = parse_manifest(_image(artifactType="application/x-sbom"), None)
    assert m.artifact_type == "application/x-sbom"


def test_subject_is_parsed() -> None:
    m = parse_manifest(
        _image(subject={"mediaType": mediatypes.OCI_MANIFEST, "digest": OTHER, "size": 5}), None
    )
    assert m.subject is not None
    assert m.subject.digest == OTHER


def test_missing_media_type_is_taken_from_content_type_then_shape() -> None:
    body = json.loads(_image())
    del body["mediaType"]
    raw = json.dumps(body).encode()
    assert parse_manifest(raw, mediatypes.DOCKER_MANIFEST).media_type == mediatypes.DOCKER_MANIFEST
    assert parse_manifest(raw, None).media_type == mediatypes.OCI_MANIFEST
    index = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert parse_manifest(index, "application/json").media_type == mediatypes.OCI_INDEX


def test_foreign_layers_are_not_required_blobs() -> None:
    body = json.loads(_image())
    body["layers"][0]["urls"] = ["https://example.invalid/layer"]
    m = parse_manifest(json.dumps(body).encode(), None)
    assert [b.digest for b in m.blobs] == [DIGEST]


def test_index_children_and_platforms() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "digest": DIGEST,
                    "size": 1,
                    "platform": {"architecture": "arm64", "os": "linux"},
                },
            ],
        }
    ).encode()
    m = parse_manifest(raw, mediatypes.OCI_INDEX)
    assert m.is_index
    assert m.children[0].platform == {"architecture": "arm64", "os": "linux"}
    assert m.blobs == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "JSON"),
        (b"{", "JSON"),
        (b"1", "object"),
        (json.dumps({"schemaVersion": 1}).encode(), "schemaVersion"),
        (json.dumps({"schemaVersion": 2, "mediaType": "text/plain"}).encode(), "unsupported"),
        (json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST}).encode(), "config"),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "config": {"mediaType": "x", "digest": DIGEST, "size": -1},
                }
            ).encode(),
            "size",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "config": {"mediaType": "x", "digest": DIGEST, "size": True},
                }
            ).encode(),
            "size",
        ),
        (
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "config": {"mediaType": "x", "digest": "sha256:abc", "size": 1},
                }
            ).encode(),
            "digest",
        ),
        (_image(annotations={"a": 1}), "annotations"),
        (
            json.dumps(
                {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": {}}
            ).encode(),
            "list",
        ),
    ],
)
def test_invalid_manifests_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidManifestError, match=reason):
        parse_manifest(body, None)


def test_body_media_type_must_agree_with_content_type() -> None:
    with pytest.raises(InvalidManifestError, match="does not match"):
        parse_manifest(_image(), mediatypes.DOCKER_MANIFEST)


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        ('"a\\u0000b"', "NUL"),
        ('"\\ud800"', "lone surrogate"),
        ("[" * 70 + "]" * 70, "nests deeper"),
        ("[" * 100_000 + "]" * 100_000, "nests deeper"),
    ],
)
def test_unstorable_or_deep_json_is_refused(annotation: str, reason: str) -> None:
    body = (
        '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",'
        f' "manifests": [], "x": {annotation}}}'
    ).encode()
    with pytest.raises(InvalidManifestError, match=reason):
        parse_manifest(body, None)


def _with_config(config: object) -> bytes:
    body = json.loads(_image())
    body["config"] = config
    return json.dumps(body).encode()


CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2}


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ("sha256:abc", r"config is not a descriptor object"),
        ({**CONFIG, "mediaType": ""}, r"config\.mediaType must be a non-empty string"),
        ({**CONFIG, "mediaType": 1}, r"config\.mediaType must be a non-empty string"),
        ({**CONFIG, "digest": 5}, r"config\.digest must be a string"),
        ({**CONFIG, "platform": "linux/amd64"}, r"config\.platform must be an object"),
        ({**CONFIG, "urls": "https://x.invalid"}, r"config\.urls must be a list of strings"),
        ({**CONFIG, "urls": [1]}, r"config\.urls must be a list of strings"),
        ({**CONFIG, "artifactType": 1}, r"config\.artifactType must be a string"),
        ({**CONFIG, "annotations": {"k": 1}}, r"config\.annotations must map strings"),
    ],
)
def test_each_descriptor_field_is_checked_and_named(config: object, reason: str) -> None:
    with pytest.raises(InvalidManifestError, match=reason):
        parse_manifest(_with_config(config), None)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"mediaType": 2}, "mediaType must be a string"),
        ({"artifactType": ["x"]}, "artifactType must be a string"),
        ({"layers": {}}, "layers must be a list"),
        ({"layers": [{"mediaType": "x", "digest": DIGEST}]}, r"layers\[0\]\.size"),
        ({"subject": {"digest": DIGEST, "size": 1}}, r"subject\.mediaType"),
    ],
)
def test_manifest_fields_are_checked_and_named(extra: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidManifestError, match=reason):
        parse_manifest(_image(**extra), None)


def test_an_index_child_is_named_by_its_position() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [{**CONFIG, "mediaType": mediatypes.OCI_MANIFEST}, {"digest": DIGEST}],
        }
    ).encode()
    with pytest.raises(InvalidManifestError, match=r"manifests\[1\]\.mediaType"):
        parse_manifest(raw, None)


def test_content_type_parameters_and_case_do_not_matter() -> None:
    content_type = "Application/VND.OCI.Image.Manifest.v1+JSON; charset=utf-8"
    assert parse_manifest(_image(), content_type).media_type == mediatypes.OCI_MANIFEST
    assert parse_manifest(_image(), "application/octet-stream").media_type == (
        mediatypes.OCI_MANIFEST
    )


def test_descriptor_details_are_kept() -> None:
    body = json.loads(_image())
    body["layers"][0].update(
        {"annotations": {"org.opencontainers.image.title": "a.txt"}, "artifactType": "x/y"}
    )
    m = parse_manifest(json.dumps(body).encode(), None)
    layer = m.blobs[1]
    assert (layer.size, layer.artifact_type) == (9, "x/y")
    assert layer.annotations == {"org.opencontainers.image.title": "a.txt"}
    assert m.config_media_type == "application/vnd.oci.image.config.v1+json"
