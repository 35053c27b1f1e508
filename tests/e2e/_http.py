"""HTTP helpers: registry authentication as docker clients do it, and small request utilities."""

from __future__ import annotations

import re
from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

_PARAM = re.compile(r'(\w+)="([^"]*)"')

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…"`` → ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


class RegistryAuth(httpx.Auth):
    """Answer the registry's 401 challenge the way docker/podman do.

    ``Basic`` challenges get the credentials directly; ``Bearer`` challenges get a token from
    the realm (asked for with the credentials and the challenge's service and scope). Once
    the scheme is known, later requests carry credentials up front, so a streamed body that
    cannot be sent twice is not wasted on a 401 (the bearer token is the last one granted;
    fetch something in the same repository first).
    """

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        """Without credentials, only Bearer challenges are answered (with an anonymous token)."""
        self._credentials = (username, password or "") if username else None
        self._scheme: str | None = None
        self._token: str | None = None

    def _apply(self, request: httpx.Request) -> httpx.Request:
        if self._scheme == "basic" and self._credentials:
            return next(httpx.BasicAuth(*self._credentials).auth_flow(request))
        if self._scheme == "bearer" and self._token:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _fetch_token(self, params: dict[str, str]) -> str:
        realm = params.pop("realm")
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        response = httpx.get(realm, params=query, auth=self._credentials, timeout=30.0)
        assert response.status_code == 200, "token request failed: " + describe(response)
        body = response.json()
        token = body.get("token") or body.get("access_token")
        assert token, f"token endpoint {realm} answered without a token: {body}"
        return str(token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._apply(request)
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        if scheme == "basic" and self._credentials:
            self._scheme = "basic"
        elif scheme == "bearer" and "realm" in params:
            self._scheme = "bearer"
            self._token = self._fetch_token(params)
        else:
            return
        yield self._apply(request)


def location_on(base_url: str, location: str) -> str:
    """The upload ``Location`` (absolute or relative) re-pointed at ``base_url``."""
    parts = urlsplit(location)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return base_url.rstrip("/") + path


def with_query(url: str, **params: str) -> str:
    """Append query parameters to a URL that may already carry some (upload state)."""
    extra = str(httpx.QueryParams(params))
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def describe(response: httpx.Response) -> str:
    """One request/response pair as text, for assertion messages."""
    request = response.request
    try:
        body = response.text[:2000]
    except httpx.ResponseNotRead:
        body = "<streamed body not read>"
    headers = "\n".join(f"  {k}: {v}" for k, v in response.headers.items())
    return (
        f"{request.method} {request.url} -> {response.status_code}\n"
        f"response headers:\n{headers}\nresponse body: {body}"
    )


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    assert response.status_code in statuses, describe(response)
    return response
