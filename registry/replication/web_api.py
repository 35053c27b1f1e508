"""The management APIs beside a registry's ``/v2/`` (Docker Hub's, Quay's, GitHub's,
GitLab's): JSON over HTTPS with their own credentials, answers checked as the registry's are."""

from __future__ import annotations

from typing import Any

import httpx

from registry.replication.adapter import AdapterError, NotFound, Unreachable
from registry.replication.client import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    check_answer,
    tls_verification,
)


class WebApi:
    def __init__(self, base_url: str, headers: dict[str, str], *, insecure: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            verify=tls_verification(insecure),
            headers={"User-Agent": "berth-replication", "Accept": "application/json", **headers},
            timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        )

    def authorize(self, value: str) -> None:
        """Send ``Authorization: value`` from now on (a token the API gave at login)."""
        self._http.headers["Authorization"] = value

    async def send(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"{what}: {type(exc).__name__}: {exc}") from exc
        check_answer(response, what)
        return response

    async def json(self, path: str, what: str, **kwargs: Any) -> Any:
        """The JSON body of a GET that must answer 200."""
        response = await self.send("GET", path, what, **kwargs)
        if response.status_code != 200:
            raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")
        return response.json()

    async def delete(self, path: str, what: str) -> None:
        """A DELETE that must succeed (``NotFound`` when there is nothing to delete)."""
        response = await self.send("DELETE", path, what)
        if response.status_code == 404:
            raise NotFound(f"{what}: not found")
        if response.status_code not in (200, 202, 204):
            raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")

    async def create(self, path: str, what: str, body: dict[str, Any]) -> None:
        """A POST of ``body`` that must answer 200 or 201."""
        response = await self.send("POST", path, what, json=body)
        if response.status_code not in (200, 201):
            raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")

    async def close(self) -> None:
        await self._http.aclose()
