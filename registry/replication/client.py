"""The HTTP side of remote adapters: an httpx client that answers registry challenges.

Distribution-style registries challenge ``/v2/`` requests with ``WWW-Authenticate``: either
``Basic`` or ``Bearer realm=…,service=…,scope=…`` (Docker's token spec). The auth flow asks
the realm for a token for exactly the challenged scope, with the registry's credentials as
Basic (or none, anonymously), and keeps one token per repository, so the next request in the
same repository goes out with it at once. That matters for streamed blob uploads: a body
that was already sent cannot be replayed after a late challenge, so the upload's POST (no
body) meets the challenge and the PUT that streams reuses its token.
"""

from __future__ import annotations

import base64
import functools
import re
import ssl
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import httpx

from registry.replication.adapter import Unauthorized, Unreachable

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0


BASIC, OAUTH = "basic", "oauth"


@dataclass(frozen=True, slots=True)
class Credential:
    """``basic``: a username and password (sent as Basic, and to the token realm per Docker's
    token spec). ``oauth``: an OAuth2 client id and secret, exchanged at the realm for an
    access token with the client-credentials grant; they are never sent as Basic."""

    username: str = ""
    password: str = ""
    kind: str = BASIC

    @property
    def basic(self) -> str | None:
        if not self.username or self.kind == OAUTH:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def repository_of(path: str) -> str:
    """The repository a /v2/ path addresses ("" for /v2/ itself and _catalog)."""
    match = _REPOSITORY_PATH.match(path)
    return match.group(1) if match else ""


class ChallengeAuth(httpx.Auth):
    def __init__(self, credential: Credential) -> None:
        self._credential = credential
        self._tokens: dict[str, tuple[str, float]] = {}
        # The last Bearer challenge of each repository: where to renew its token.
        self._challenges: dict[str, dict[str, str]] = {}
        self._basic_ok = False

    def _cached(self, repository: str) -> str | None:
        entry = self._tokens.get(repository)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def _apply(self, request: httpx.Request) -> None:
        if not request.url.path.startswith("/v2/"):
            # The management API (Harbor's, Berth's) takes the credentials as they are; other
            # paths (a blob redirected to storage, whose URL is signed) get none.
            if self._credential.basic and request.url.path.startswith("/api/"):
                request.headers["Authorization"] = self._credential.basic
            return
        token = self._cached(repository_of(request.url.path))
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        elif self._basic_ok and self._credential.basic:
            request.headers["Authorization"] = self._credential.basic

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        repository = repository_of(request.url.path)
        known = self._challenges.get(repository)
        if request.url.path.startswith("/v2/") and known and self._cached(repository) is None:
            # The token ran out: renew it before the request goes, since a streamed body
            # cannot be sent a second time after a challenge.
            await self._take_token((yield self._token_request(known)), known, repository)
        self._apply(request)
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self._credential.basic is None or "Authorization" in request.headers:
                return
            self._basic_ok = True
            request.headers["Authorization"] = self._credential.basic
            yield request
            return
        if scheme != "bearer" or "realm" not in params:
            return
        token = await self._take_token((yield self._token_request(params)), params, repository)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def _take_token(
        self, answer: httpx.Response, params: dict[str, str], repository: str
    ) -> str:
        await answer.aread()
        if answer.status_code != 200:
            raise Unauthorized(
                f"the token service at {params['realm']} answered {answer.status_code}"
            )
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise Unauthorized(f"the token service at {params['realm']} gave no token")
        lifetime = float(body.get("expires_in") or 60)
        # Refreshed a little early so a long copy never sends an expired token.
        expires = time.monotonic() + max(lifetime - 10, 5)
        self._tokens[repository] = (str(token), expires)
        self._challenges[repository] = params
        return str(token)

    def _token_request(self, params: dict[str, str]) -> httpx.Request:
        wanted = {k: v for k, v in params.items() if k in ("service", "scope") and v}
        if self._credential.kind == OAUTH:
            # Docker's token spec, OAuth2 flavour: a form POST to the realm.
            form = {
                "grant_type": "client_credentials",
                "client_id": self._credential.username,
                "client_secret": self._credential.password,
                **wanted,
            }
            return httpx.Request("POST", params["realm"], data=form)
        headers = {}
        if self._credential.basic:
            headers["Authorization"] = self._credential.basic
        return httpx.Request("GET", params["realm"], params=wanted, headers=headers)


@functools.cache
def _trusted() -> ssl.SSLContext:
    """One certificate store per process: loading it costs more than many requests."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def tls_verification(insecure: bool) -> ssl.SSLContext | bool:
    """What httpx verifies TLS with: the CA bundle, or nothing for ``insecure``."""
    return False if insecure else _trusted()


def make_client(base_url: str, credential: Credential, *, insecure: bool) -> httpx.AsyncClient:
    """An async client for one registry; ``insecure`` skips TLS certificate checks."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        auth=ChallengeAuth(credential),
        verify=tls_verification(insecure),
        follow_redirects=True,
        timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        headers={"User-Agent": "berth-replication"},
    )


def check_answer(response: httpx.Response, what: str) -> None:
    """Raise ``Unreachable`` for answers a later attempt may get past (5xx, 429) and
    ``Unauthorized`` for 401/403."""
    if response.status_code >= 500 or response.status_code == 429:
        raise Unreachable(f"{what}: the registry answered {response.status_code}")
    if response.status_code in (401, 403):
        raise Unauthorized(f"{what}: the registry answered {response.status_code}")
