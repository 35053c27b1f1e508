"""Which host name a request may be answered with.

Berth writes its own URL into token challenges (the realm) and redirects. Behind a trusted proxy
(``trusted_proxies``) the proxy's ``X-Forwarded-Host`` or the ``Host`` it passed on names it;
from anyone else those headers are the caller's word, and a forged one would send clients (and
their credentials) elsewhere. So for an untrusted peer this middleware replaces ``Host`` with
the configured external URL's host, or else the address the request arrived at, and drops
``X-Forwarded-Host``, before any route sees the request.
"""

from __future__ import annotations

import contextlib
import ipaddress
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from registry.config import Settings

_FORWARDED_HOST = b"x-forwarded-host"
_FORWARDED_FOR = b"x-forwarded-for"


class TrustedProxies:
    """The ``trusted_proxies`` setting as uvicorn reads it: addresses, networks, or ``*``."""

    def __init__(self, entries: list[str]) -> None:
        self.everyone = "*" in entries
        self.literals = frozenset(entries)
        self.networks = []
        for entry in entries:
            # A host name or a typo is matched literally, as uvicorn does.
            with contextlib.suppress(ValueError):
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def __contains__(self, host: object) -> bool:
        if self.everyone or host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(str(host))
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def from_trusted_proxy(scope: Scope, trusted: TrustedProxies) -> bool:
    """Whether the request reached Berth through one of the trusted proxies.

    uvicorn (``proxy_headers``, given the same addresses) has already replaced ``client`` by
    the address named in ``X-Forwarded-For`` when the peer was trusted; it gives such an
    address port 0, which no real TCP peer has.
    """
    client = scope.get("client")
    if not client:
        return False
    host, port = client[0], client[1]
    if host in trusted:
        return True
    forwarded = any(name == _FORWARDED_FOR for name, _ in scope.get("headers", ()))
    return forwarded and port == 0


def own_host(scope: Scope, settings: Settings) -> str:
    """Berth's own host[:port]: the external URL's, else the address the request came in on."""
    if settings.external_url:
        netloc = urlsplit(settings.external_url).netloc
        if netloc:
            return netloc.rpartition("@")[2]
    server = scope.get("server")
    host, port = (server[0], server[1]) if server else (settings.host, settings.port)
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


class HostGuardMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.trusted = TrustedProxies(settings.trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not from_trusted_proxy(scope, self.trusted):
            headers = [
                (name, value)
                for name, value in scope.get("headers", ())
                if name not in (b"host", _FORWARDED_HOST)
            ]
            headers.append((b"host", own_host(scope, self.settings).encode("latin-1")))
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)
