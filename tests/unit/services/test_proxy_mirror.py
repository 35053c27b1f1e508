"""Which proxy project answers a mirror client: the one mapped to the upstream containerd
names, else the first mapping's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from registry.config import Settings
from registry.services.context import Backends
from registry.services.proxy_mirror import _mirror_project


def _backends(mirrors: dict[str, str]) -> Backends:
    settings = Settings(proxy_mirrors=mirrors)
    return cast(Backends, SimpleNamespace(settings=settings))


def test_the_named_upstream_or_the_first_mapping() -> None:
    b = _backends({"docker.io": "hub", "quay.io": "quay"})
    assert _mirror_project(b, None) == "hub"
    assert _mirror_project(b, "quay.io") == "quay"
    assert _mirror_project(b, "ghcr.io") == "hub"


def test_no_mapping_no_mirror() -> None:
    assert _mirror_project(_backends({}), "docker.io") is None
