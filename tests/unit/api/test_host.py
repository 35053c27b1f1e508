"""Which host a request is answered with: a forged Host or X-Forwarded-Host counts only from a
trusted proxy."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from registry.api.host import HostGuardMiddleware, TrustedProxies, from_trusted_proxy, own_host
from registry.config import Settings


def http_scope(
    client: tuple[str, int] | None,
    headers: list[tuple[bytes, bytes]] | None = None,
    server: tuple[str, int | None] | None = ("10.0.0.1", 5000),
) -> dict[str, Any]:
    return {"type": "http", "client": client, "server": server, "headers": headers or []}


@pytest.mark.parametrize(
    ("entries", "host", "trusted"),
    [
        (["127.0.0.1", "::1"], "127.0.0.1", True),
        (["127.0.0.1", "::1"], "::1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.0.0.0/8"], "10.20.30.40", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["fd00::/8"], "fd12::1", True),
        # A host name is matched as written, never resolved.
        (["proxy.internal"], "proxy.internal", True),
        (["proxy.internal"], "10.0.0.1", False),
        (["*"], "203.0.113.9", True),
        ([], "127.0.0.1", False),
        (["10.0.0.0/8"], "not-an-address", False),
    ],
)
def test_trusted_proxy_entries(entries: list[str], host: str, trusted: bool) -> None:
    assert (host in TrustedProxies(entries)) is trusted


def test_a_request_from_a_trusted_proxy() -> None:
    trusted = TrustedProxies(["10.0.0.2"])
    assert from_trusted_proxy(http_scope(("10.0.0.2", 40000)), trusted)
    assert not from_trusted_proxy(http_scope(("203.0.113.9", 40000)), trusted)
    assert not from_trusted_proxy(http_scope(None), trusted)


def test_a_client_address_uvicorn_took_from_a_trusted_proxys_header_counts_as_proxied() -> None:
    trusted = TrustedProxies(["10.0.0.2"])
    forwarded = [(b"x-forwarded-for", b"203.0.113.9")]
    # uvicorn gives the address it read from X-Forwarded-For port 0.
    assert from_trusted_proxy(http_scope(("203.0.113.9", 0), forwarded), trusted)
    # Without the header, or with a real port, it is the peer itself speaking.
    assert not from_trusted_proxy(http_scope(("203.0.113.9", 0)), trusted)
    assert not from_trusted_proxy(http_scope(("203.0.113.9", 5555), forwarded), trusted)


@pytest.mark.parametrize(
    ("external_url", "server", "host"),
    [
        ("https://registry.example", None, "registry.example"),
        ("https://user@registry.example:8443/x", None, "registry.example:8443"),
        (None, ("10.0.0.1", 5000), "10.0.0.1:5000"),
        (None, ("::1", 5000), "[::1]:5000"),
        (None, ("/run/berth.sock", None), "/run/berth.sock"),
        # A URL without a scheme has no host to take: the listening address is used.
        ("registry.example", ("10.0.0.1", 5000), "10.0.0.1:5000"),
    ],
)
def test_own_host(
    external_url: str | None, server: tuple[str, int | None] | None, host: str
) -> None:
    settings = Settings(external_url=external_url, host="127.0.0.1", port=5000)
    assert own_host(http_scope(("1.2.3.4", 1), server=server), settings) == host


def test_own_host_falls_back_to_the_settings() -> None:
    settings = Settings(host="0.0.0.0", port=7000)  # noqa: S104 - only a value here
    assert own_host(http_scope(("1.2.3.4", 1), server=None), settings) == "0.0.0.0:7000"


async def passed_on(settings: Settings, scope: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError(message)

    await HostGuardMiddleware(app, settings)(scope, receive, send)
    [inner] = seen
    headers: list[tuple[bytes, bytes]] = inner["headers"]
    return headers


FORGED = [
    (b"host", b"evil.example"),
    (b"x-forwarded-host", b"evil.example"),
    (b"accept", b"*/*"),
]


async def test_an_untrusted_caller_cannot_name_the_host() -> None:
    settings = Settings(external_url="https://registry.example", trusted_proxies=["10.0.0.2"])
    headers = await passed_on(settings, http_scope(("203.0.113.9", 40000), FORGED))
    assert headers == [(b"accept", b"*/*"), (b"host", b"registry.example")]


async def test_a_trusted_proxy_names_the_host() -> None:
    settings = Settings(external_url="https://registry.example", trusted_proxies=["10.0.0.2"])
    headers = await passed_on(settings, http_scope(("10.0.0.2", 40000), FORGED))
    assert headers == FORGED


async def test_other_scopes_pass_untouched() -> None:
    settings = Settings(trusted_proxies=[])
    scope = {"type": "lifespan", "headers": FORGED}
    assert await passed_on(settings, scope) == FORGED
