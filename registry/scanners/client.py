"""Berth's side of Harbor's Pluggable Scanner API: asking a registered scanner adapter for its
metadata, starting a scan and fetching its report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from registry.scanners.engine import VULNERABILITY_REPORT

SCAN_REQUEST = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
SBOM_REPORT = "application/vnd.security.sbom.report+json; version=1.0"
_TIMEOUT = 30.0


class ScannerError(Exception):
    """The adapter could not be reached or answered with an error; the message says why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a registered adapter listens and how to authenticate to it."""

    url: str
    auth: str = ""  # "", Basic, Bearer, X-ScannerAdapter-API-Key
    credential: str = ""
    skip_cert_verify: bool = False

    def headers(self) -> dict[str, str]:
        if not self.auth or not self.credential:
            return {}
        if self.auth == "X-ScannerAdapter-API-Key":
            return {"X-ScannerAdapter-API-Key": self.credential}
        return {"Authorization": f"{self.auth} {self.credential}"}


@dataclass(frozen=True, slots=True)
class Pending:
    """The report is not ready; ask again after this many seconds."""

    refresh_after: float


def _client(endpoint: Endpoint) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=endpoint.url.rstrip("/"),
        headers=endpoint.headers(),
        timeout=_TIMEOUT,
        verify=not endpoint.skip_cert_verify,
    )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or f"HTTP {response.status_code}"


async def metadata(endpoint: Endpoint) -> dict[str, Any]:
    try:
        async with _client(endpoint) as client:
            response = await client.get("/api/v1/metadata")
    except httpx.HTTPError as exc:
        raise ScannerError(f"cannot reach the scanner at {endpoint.url}: {exc}") from None
    if response.status_code != 200:
        raise ScannerError(f"scanner metadata: {response.status_code} {_message(response)}")
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise ScannerError("the scanner's metadata is not JSON") from None
    if not isinstance(body, dict) or "scanner" not in body:
        raise ScannerError("the scanner's metadata names no scanner")
    return body


async def submit(endpoint: Endpoint, request: dict[str, Any]) -> str:
    try:
        async with _client(endpoint) as client:
            response = await client.post(
                "/api/v1/scan",
                content=json.dumps(request),
                headers={"Content-Type": SCAN_REQUEST},
            )
    except httpx.HTTPError as exc:
        raise ScannerError(f"cannot reach the scanner at {endpoint.url}: {exc}") from None
    if response.status_code != 202:
        raise ScannerError(f"scan request: {response.status_code} {_message(response)}")
    try:
        return str(response.json()["id"])
    except (ValueError, KeyError, TypeError):
        raise ScannerError("the scanner's answer names no scan id") from None


async def fetch_report(
    endpoint: Endpoint,
    scan_id: str,
    accept: str = VULNERABILITY_REPORT,
    params: dict[str, str] | None = None,
) -> dict[str, Any] | Pending:
    try:
        async with _client(endpoint) as client:
            response = await client.get(
                f"/api/v1/scan/{scan_id}/report", headers={"Accept": accept}, params=params
            )
    except httpx.HTTPError as exc:
        raise ScannerError(f"cannot reach the scanner at {endpoint.url}: {exc}") from None
    if response.status_code == 302:
        try:
            return Pending(float(response.headers.get("Refresh-After", "5")))
        except ValueError:
            return Pending(5.0)
    if response.status_code != 200:
        raise ScannerError(f"scan report: {response.status_code} {_message(response)}")
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        raise ScannerError("the scan report is not JSON") from None
    return body
