"""The table of registry types: Harbor's names, patterns and the hosts each derives."""

from __future__ import annotations

import json

import pytest

from registry.replication.client import Credential
from registry.replication.dockerhub import registry_url_for
from registry.replication.ghcr import api_url_for
from registry.replication.quay import split_credential
from registry.replication.types import TYPES, UnknownRegistryType, info_of, pattern_of


def test_every_type_has_harbors_name_and_an_info() -> None:
    assert TYPES == ("docker-registry", "harbor", "docker-hub", "quay", "github-ghcr", "gitlab")
    for kind in TYPES:
        assert info_of(kind).as_json()["type"] == kind
        assert "endpoint_pattern" in pattern_of(kind)
    with pytest.raises(UnknownRegistryType):
        pattern_of("aws-ecr")


def test_fixed_endpoints_and_path_rules() -> None:
    assert pattern_of("docker-hub")["endpoint_pattern"] == {
        "endpoint_type": "EndpointPatternTypeFix",
        "endpoints": [{"key": "hub.docker.com", "value": "https://hub.docker.com"}],
    }
    assert pattern_of("gitlab")["endpoint_pattern"] == {
        "endpoint_type": "EndpointPatternTypeStandard"
    }
    assert info_of("docker-hub").supported_repository_path_component_type == "ONLY_TWO"
    assert info_of("gitlab").supported_repository_path_component_type == "AT_LEAST_TWO"
    assert info_of("docker-registry").as_json()["supported_copy_by_chunk"] is True
    assert info_of("quay").as_json()["supported_copy_by_chunk"] is False


def test_public_hosts_map_to_their_apis() -> None:
    assert registry_url_for("https://hub.docker.com") == "https://registry-1.docker.io"
    assert registry_url_for("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert api_url_for("https://ghcr.io") == "https://api.github.com"
    assert api_url_for("https://ghcr.example") == "https://ghcr.example"


def test_quay_takes_harbors_json_secret_or_a_plain_login() -> None:
    secret = json.dumps(
        {"account_name": "org+bot", "docker_cli_password": "pw", "oauth2_token": "tok"}
    )
    assert split_credential(Credential("json_file", secret)) == (Credential("org+bot", "pw"), "tok")
    assert split_credential(Credential("org+bot", "pw")) == (Credential("org+bot", "pw"), "")
    assert split_credential(Credential("u", '{"other": 1}')) == (
        Credential("u", '{"other": 1}'),
        "",
    )
