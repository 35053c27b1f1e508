"""Client-side Docker token auth for the tests, done the way registry clients do it.

On a 401 the challenge names the realm, service and scope; a token is fetched from the realm
(with Basic credentials, or anonymously) for that repository with every action the test may
need, kept per repository, and sent up front on later requests to it, so streamed bodies are
never spent on a 401.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator

import httpx

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")


def challenge_params(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme.lower() == "bearer", header
    return dict(_PARAM.findall(rest))


class TokenAuth(httpx.Auth):
    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials
        self.tokens: dict[str, str] = {}
        self.realm = ""
        self.service = ""

    def _key(self, request: httpx.Request) -> str:
        match = _REPOSITORY.match(request.url.path)
        return match.group(1) if match else request.url.path

    async def _fetch(self, realm: str, service: str, scopes: list[str]) -> str | None:
        auth = httpx.BasicAuth(*self.credentials) if self.credentials else None
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(
                realm, params=[("service", service), *(("scope", s) for s in scopes)], auth=auth
            )
        return str(response.json()["token"]) if response.status_code == 200 else None

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        key = self._key(request)
        source = request.url.params.get("from")
        if source and self.realm:
            # Like docker: a mount asks up front for pull on the source repository too.
            token = await self._fetch(
                self.realm,
                self.service,
                [f"repository:{key}:pull,push", f"repository:{source}:pull"],
            )
            if token:
                self.tokens[key] = token
        if key in self.tokens:
            request.headers["Authorization"] = f"Bearer {self.tokens[key]}"
        response = yield request
        if response.status_code != 401 or "www-authenticate" not in response.headers:
            return
        params = challenge_params(response.headers["www-authenticate"])
        self.realm, self.service = params["realm"], params["service"]
        scopes = []
        if "scope" in params:
            kind, _, rest = params["scope"].partition(":")
            name = rest.rpartition(":")[0]
            scopes.append(
                f"{kind}:{name}:pull,push,delete" if kind == "repository" else params["scope"]
            )
        token = await self._fetch(self.realm, self.service, scopes)
        if token is None:
            return
        self.tokens[key] = token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request
