"""The explicit table of remote registry types: an unknown type is an error, never a fallback."""

from __future__ import annotations

from registry.replication import distribution, dockerhub, ghcr, gitlab, harbor, quay
from registry.replication.adapter import Adapter, RegistryInfo
from registry.replication.client import Credential

_KINDS: dict[str, type[distribution.DistributionAdapter]] = {
    distribution.TYPE: distribution.DistributionAdapter,
    harbor.TYPE: harbor.HarborAdapter,
    dockerhub.TYPE: dockerhub.DockerHubAdapter,
    quay.TYPE: quay.QuayAdapter,
    ghcr.TYPE: ghcr.GhcrAdapter,
    gitlab.TYPE: gitlab.GitlabAdapter,
}

_INFOS: dict[str, RegistryInfo] = {
    distribution.TYPE: distribution.INFO,
    harbor.TYPE: harbor.INFO,
    dockerhub.TYPE: dockerhub.INFO,
    quay.TYPE: quay.INFO,
    ghcr.TYPE: ghcr.INFO,
    gitlab.TYPE: gitlab.INFO,
}

_STANDARD_ENDPOINT: dict[str, object] = {"endpoint_type": "EndpointPatternTypeStandard"}
_STANDARD_CREDENTIAL: dict[str, object] = {"access_key_type": "AccessKeyTypeStandard"}

# Harbor's ``AdapterPattern`` per type: how the portal asks for the endpoint and credential.
_PATTERNS: dict[str, dict[str, object]] = {
    dockerhub.TYPE: {
        "endpoint_pattern": {
            "endpoint_type": "EndpointPatternTypeFix",
            "endpoints": list(dockerhub.ENDPOINTS),
        },
        "credential_pattern": _STANDARD_CREDENTIAL,
    },
    ghcr.TYPE: {
        "endpoint_pattern": {
            "endpoint_type": "EndpointPatternTypeFix",
            "endpoints": list(ghcr.ENDPOINTS),
        },
        "credential_pattern": _STANDARD_CREDENTIAL,
    },
    quay.TYPE: {
        "endpoint_pattern": _STANDARD_ENDPOINT,
        # The secret is Harbor's JSON document (account, CLI password, OAuth2 token).
        "credential_pattern": {
            "access_key_type": "AccessKeyTypeFix",
            "access_key_data": "json_file",
            "access_secret_type": "AccessSecretTypeFile",
            "access_secret_data": "",
        },
    },
}

TYPES = tuple(_KINDS)


class UnknownRegistryType(ValueError):
    pass


def adapter_for(type_: str, url: str, credential: Credential, *, insecure: bool) -> Adapter:
    kind = _KINDS.get(type_)
    if kind is None:
        raise UnknownRegistryType(f"unknown registry type {type_!r}; known: {', '.join(TYPES)}")
    return kind(url, credential, insecure=insecure)


def info_of(type_: str) -> RegistryInfo:
    info = _INFOS.get(type_)
    if info is None:
        raise UnknownRegistryType(f"unknown registry type {type_!r}")
    return info


def pattern_of(type_: str) -> dict[str, object]:
    """How the endpoint and the credential of ``type_`` are entered (Harbor's shape)."""
    info_of(type_)
    return _PATTERNS.get(
        type_,
        {"endpoint_pattern": _STANDARD_ENDPOINT, "credential_pattern": _STANDARD_CREDENTIAL},
    )
