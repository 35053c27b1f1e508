"""The manifest service's pure rules: what a reference is, how the audit log names an artifact,
and the size limit checked before a body is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from registry.config import Settings
from registry.oci.digest import Digest
from registry.services.context import Backends
from registry.services.errors import DigestInvalid, ManifestTooLarge, TagInvalid
from registry.services.manifest import audit_resource, check_manifest_length, parse_reference

HEX = "b" * 64


def test_a_reference_with_a_colon_is_a_digest_else_a_tag() -> None:
    assert parse_reference(f"sha256:{HEX}") == Digest("sha256", HEX)
    assert parse_reference("v1.2.3") == "v1.2.3"


def test_a_malformed_reference_is_refused_as_what_it_looks_like() -> None:
    with pytest.raises(DigestInvalid):
        parse_reference("sha256:short")
    with pytest.raises(TagInvalid, match="invalid tag '-latest'") as refused:
        parse_reference("-latest")
    assert refused.value.detail == {"tag": "-latest"}


def test_the_audit_log_names_tags_and_digests_apart() -> None:
    assert audit_resource("team/app", "latest") == "team/app:latest"
    assert audit_resource("team/app", f"sha256:{HEX}") == f"team/app@sha256:{HEX}"


@dataclass
class FakeBackends:
    settings: Settings


def test_an_announced_length_over_the_limit_is_refused_before_reading() -> None:
    b = cast(Backends, FakeBackends(Settings(max_manifest_bytes=4096)))
    check_manifest_length(b, None)
    check_manifest_length(b, 4096)
    with pytest.raises(ManifestTooLarge, match="exceeds the 4096 byte limit") as refused:
        check_manifest_length(b, 4097)
    assert refused.value.detail == {"size": 4097, "limit": 4096}
