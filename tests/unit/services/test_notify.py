"""The pure parts of event reporting: the registry host named in ``resource_url`` and the sizes
a quota warning quotes."""

from __future__ import annotations

import pytest

from registry.config import Settings
from registry.services.notify import registry_host


@pytest.mark.parametrize(
    ("external_url", "host"),
    [
        ("https://registry.example", "registry.example"),
        ("https://registry.example:8443/", "registry.example:8443"),
        ("http://[2001:db8::1]:5000", "[2001:db8::1]:5000"),
        # Given without a scheme, the setting is taken as the host itself.
        ("registry.example", "registry.example"),
    ],
)
def test_the_external_url_names_the_host(external_url: str, host: str) -> None:
    assert registry_host(Settings(external_url=external_url)) == host


def test_without_an_external_url_the_listening_address_is_used() -> None:
    assert registry_host(Settings(host="10.0.0.7", port=5443)) == "10.0.0.7:5443"


def test_an_ipv6_listening_address_is_bracketed() -> None:
    assert registry_host(Settings(host="::1", port=5000)) == "[::1]:5000"
    assert registry_host(Settings(host="2001:db8::7", port=80)) == "[2001:db8::7]:80"
