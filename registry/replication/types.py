"""The explicit table of remote registry types: an unknown type is an error, never a fallback."""

from __future__ import annotations

from registry.replication import distribution, harbor
from registry.replication.adapter import Adapter, RegistryInfo
from registry.replication.client import Credential

_KINDS: dict[str, type[distribution.DistributionAdapter]] = {
    distribution.TYPE: distribution.DistributionAdapter,
    harbor.TYPE: harbor.HarborAdapter,
}

_INFOS: dict[str, RegistryInfo] = {distribution.TYPE: distribution.INFO, harbor.TYPE: harbor.INFO}

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
