"""The ``docker-hub`` adapter: images on Docker Hub.

Docker Hub splits in two: the registry (``registry-1.docker.io``, Docker token auth with the
realm ``auth.docker.io/token``) moves the bytes, and Hub's web API (``hub.docker.com``, the
endpoint entered, as in Harbor) lists namespaces, repositories and tags and deletes tags.
Hub has no ``_catalog``; its tag listing carries each tag's digest, which saves a manifest
request per tag against the pull rate limit. Repositories are exactly ``namespace/name``,
and a namespace other than the account's own is an organization, made before a push.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from registry.replication.adapter import (
    AdapterError,
    NotFound,
    RegistryInfo,
    RemoteArtifact,
    Unauthorized,
)
from registry.replication.client import Credential
from registry.replication.distribution import DistributionAdapter
from registry.replication.web_api import WebApi

TYPE = "docker-hub"
HUB_HOST = "hub.docker.com"
REGISTRY_URL = "https://registry-1.docker.io"
PAGE_SIZE = 100
INFO = RegistryInfo(
    TYPE,
    "Docker Hub",
    supported_repository_path_component_type="ONLY_TWO",
)
ENDPOINTS = ({"key": HUB_HOST, "value": f"https://{HUB_HOST}"},)


def registry_url_for(hub_url: str) -> str:
    """Docker Hub's registry for its web API; anything else (a mirror of both) is one host."""
    return REGISTRY_URL if urlsplit(hub_url).hostname == HUB_HOST else hub_url


class DockerHubAdapter(DistributionAdapter):
    def __init__(self, url: str, credential: Credential, *, insecure: bool = False) -> None:
        super().__init__(registry_url_for(url), credential, insecure=insecure)
        self._credential = credential
        self._hub = WebApi(url, {}, insecure=insecure)
        self._logged_in = False

    def info(self) -> RegistryInfo:
        return INFO

    async def close(self) -> None:
        await self._hub.close()
        await super().close()

    async def _login(self) -> None:
        """Hub's API takes a short-lived access token made from the account's credentials."""
        if self._logged_in or not self._credential.username:
            return
        response = await self._hub.send(
            "POST",
            "/v2/auth/token",
            "logging in to Docker Hub",
            json={"identifier": self._credential.username, "secret": self._credential.password},
        )
        if response.status_code != 200 or not response.json().get("access_token"):
            raise Unauthorized(f"Docker Hub refused the login ({response.status_code})")
        self._hub.authorize(f"Bearer {response.json()['access_token']}")
        self._logged_in = True

    async def _api(self, path: str, what: str) -> Any:
        await self._login()
        return await self._hub.json(path, what)

    async def _pages(self, path: str, what: str) -> list[dict[str, Any]]:
        """Every ``results`` entry of a paged Hub listing (``next`` is empty on the last
        page); none when the namespace or repository does not exist."""
        await self._login()
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self._hub.send(
                "GET", f"{path}?page={page}&page_size={PAGE_SIZE}", what
            )
            if response.status_code == 404:
                return items
            if response.status_code != 200:
                raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")
            body = response.json()
            items.extend(body.get("results") or [])
            if not body.get("next"):
                return items
            page += 1

    async def ping(self) -> None:
        await super().ping()
        await self._login()

    async def list_repositories(self) -> list[str]:
        body = await self._api("/v2/repositories/namespaces", "listing namespaces")
        names: list[str] = []
        for namespace in body.get("namespaces") or []:
            rows = await self._pages(
                f"/v2/repositories/{quote(namespace, safe='')}/",
                f"listing repositories of {namespace}",
            )
            names.extend(f"{row['namespace']}/{row['name']}" for row in rows)
        return names

    def _split(self, repository: str) -> tuple[str, str]:
        namespace, _, name = repository.partition("/")
        if not name or "/" in name:
            raise AdapterError(f"Docker Hub repositories are namespace/name, not {repository}")
        return quote(namespace, safe=""), quote(name, safe="")

    async def _tags(self, repository: str) -> list[dict[str, Any]]:
        namespace, name = self._split(repository)
        return await self._pages(
            f"/v2/repositories/{namespace}/{name}/tags/", f"listing tags of {repository}"
        )

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        by_digest: dict[str, list[str]] = {}
        for row in await self._tags(repository):
            digest = row.get("digest")
            if not digest:
                # A tag Hub has not indexed yet: the registry knows.
                digest = await self.manifest_digest(repository, str(row["name"]))
            if digest:
                by_digest.setdefault(str(digest), []).append(str(row["name"]))
        return [RemoteArtifact(d, tuple(tags)) for d, tags in by_digest.items()]

    async def prepare_for_push(self, repositories: list[str]) -> None:
        for namespace in sorted({r.split("/", 1)[0] for r in repositories}):
            if namespace == self._credential.username:
                continue  # the account's own namespace always exists
            await self._login()
            found = await self._hub.send(
                "GET", f"/v2/orgs/{quote(namespace, safe='')}/", f"finding {namespace}"
            )
            if found.status_code == 200:
                continue
            await self._hub.create(
                "/v2/orgs/",
                f"creating organization {namespace}",
                {"orgname": namespace, "full_name": namespace, "company": namespace},
            )

    async def delete_tag(self, repository: str, tag: str) -> None:
        namespace, name = self._split(repository)
        await self._login()
        await self._hub.delete(
            f"/v2/repositories/{namespace}/{name}/tags/{quote(tag, safe='')}/",
            f"deleting tag {repository}:{tag}",
        )

    async def delete_manifest(self, repository: str, digest: str) -> None:
        """Docker Hub deletes tags, not manifests: every tag on the digest goes (the manifest
        itself is then cleaned up by Hub)."""
        tags = [
            str(row["name"]) for row in await self._tags(repository) if row.get("digest") == digest
        ]
        if not tags:
            raise NotFound(f"{repository}@{digest} has no tags on Docker Hub")
        for tag in tags:
            await self.delete_tag(repository, tag)
