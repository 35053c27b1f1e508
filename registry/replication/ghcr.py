"""The ``github-ghcr`` adapter: GitHub's container registry.

``ghcr.io`` answers ``/v2/`` with Docker token auth (realm ``ghcr.io/token``) for a user and
a personal access token, but has no ``_catalog`` and does not delete manifests. Both go
through GitHub's REST API (``api.github.com``, the same token as a bearer): a container
package is a repository ``owner/name`` (the name may hold slashes, escaped in the API path),
and each of its versions is a manifest digest with its tags. Packages are created by the
first push.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from registry.replication.adapter import AdapterError, NotFound, RegistryInfo, RemoteArtifact
from registry.replication.client import Credential
from registry.replication.distribution import DistributionAdapter
from registry.replication.web_api import WebApi

TYPE = "github-ghcr"
GHCR_HOST = "ghcr.io"
GITHUB_API = "https://api.github.com"
PER_PAGE = 100
INFO = RegistryInfo(TYPE, "GitHub Container Registry")
ENDPOINTS = ({"key": GHCR_HOST, "value": f"https://{GHCR_HOST}"},)


def api_url_for(registry_url: str) -> str:
    """GitHub's API for ghcr.io; any other host (a stand-in) serves both."""
    return GITHUB_API if urlsplit(registry_url).hostname == GHCR_HOST else registry_url


def _next(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    return str(link["url"]) if link else None


class GhcrAdapter(DistributionAdapter):
    def __init__(self, url: str, credential: Credential, *, insecure: bool = False) -> None:
        super().__init__(url, credential, insecure=insecure)
        self._owner = credential.username
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if credential.password:
            headers["Authorization"] = f"Bearer {credential.password}"
        self._github = WebApi(api_url_for(url), headers, insecure=insecure)

    def info(self) -> RegistryInfo:
        return INFO

    async def close(self) -> None:
        await self._github.close()
        await super().close()

    async def _all(self, path: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a GitHub listing, following its ``Link: rel="next"`` pages; none
        when the package does not exist."""
        items: list[dict[str, Any]] = []
        target: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        while target:
            response = await self._github.send("GET", target, what, params=query)
            if response.status_code == 404:
                return items
            if response.status_code != 200:
                raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")
            items.extend(response.json())
            target, query = _next(response), None
        return items

    def _package_path(self, repository: str) -> str:
        owner, _, name = repository.partition("/")
        base = "/user" if owner.lower() == self._owner.lower() else f"/orgs/{quote(owner)}"
        return f"{base}/packages/container/{quote(name, safe='')}"

    async def list_repositories(self) -> list[str]:
        packages = await self._all(
            "/user/packages", "listing container packages", package_type="container"
        )
        return [f"{p['owner']['login']}/{p['name']}".lower() for p in packages]

    async def _versions(self, repository: str) -> list[dict[str, Any]]:
        return await self._all(
            f"{self._package_path(repository)}/versions", f"listing versions of {repository}"
        )

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        found = []
        for version in await self._versions(repository):
            tags = version.get("metadata", {}).get("container", {}).get("tags") or []
            if tags:
                found.append(RemoteArtifact(str(version["name"]), tuple(str(t) for t in tags)))
        return found

    async def delete_manifest(self, repository: str, digest: str) -> None:
        versions = await self._versions(repository)
        version = next((v for v in versions if v["name"] == digest), None)
        if version is None:
            raise NotFound(f"{repository}@{digest} not found")
        package = self._package_path(repository)
        what = f"deleting {repository}@{digest}"
        response = await self._github.send("DELETE", f"{package}/versions/{version['id']}", what)
        if response.status_code == 400 and len(versions) == 1:
            # GitHub keeps a package's last version: the package itself goes instead.
            response = await self._github.send("DELETE", package, what)
        if response.status_code == 404:
            raise NotFound(f"{repository}@{digest} not found")
        if response.status_code != 204:
            raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")

    async def delete_tag(self, repository: str, tag: str) -> None:
        raise AdapterError(f"GHCR cannot remove a tag alone ({repository}:{tag})")
