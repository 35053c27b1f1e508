"""The ``gitlab`` adapter: GitLab's container registry (gitlab.com or self-managed).

The endpoint is the registry (``registry.gitlab.com``); its ``/v2/`` challenge names the
token realm on GitLab itself (``gitlab.com/jwt/auth``), and that host also serves the REST API
(``/api/v4``, a personal or project access token in ``PRIVATE-TOKEN``), found the way Harbor
finds it. A repository lives in a project: ``group[/subgroup]/project[/image]``, so at least
two components, and GitLab makes no projects on push. Listing goes project by project
(``X-Next-Page`` pages), as GitLab's registry keeps ``_catalog`` to administrators; single
tags are deleted through the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from registry.replication.adapter import (
    AdapterError,
    NotFound,
    RegistryInfo,
    RemoteArtifact,
    Unreachable,
)
from registry.replication.client import Credential, parse_challenge
from registry.replication.distribution import DistributionAdapter
from registry.replication.web_api import WebApi

TYPE = "gitlab"
PER_PAGE = 50
INFO = RegistryInfo(
    TYPE, "GitLab container registry", supported_repository_path_component_type="AT_LEAST_TWO"
)


class GitlabAdapter(DistributionAdapter):
    def __init__(self, url: str, credential: Credential, *, insecure: bool = False) -> None:
        super().__init__(url, credential, insecure=insecure)
        self._token = credential.password
        self._insecure = insecure
        self._api: WebApi | None = None
        self._locations: dict[str, tuple[int, int]] = {}

    def info(self) -> RegistryInfo:
        return INFO

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
        await super().close()

    async def _gitlab(self) -> WebApi:
        """GitLab's API, on the host of the registry's token realm."""
        if self._api is None:
            try:
                # Unauthenticated on purpose: the challenge is what names the realm.
                challenge = await self._http.get("/v2/", auth=None)
            except httpx.TransportError as exc:
                raise Unreachable(f"finding GitLab: {type(exc).__name__}: {exc}") from exc
            _, params = parse_challenge(challenge.headers.get("WWW-Authenticate", ""))
            realm = urlsplit(params.get("realm", "") or self.url)
            self._api = WebApi(
                f"{realm.scheme}://{realm.netloc}",
                {"PRIVATE-TOKEN": self._token},
                insecure=self._insecure,
            )
        return self._api

    async def _all(self, path: str, what: str, **params: str) -> list[dict[str, Any]]:
        api = await self._gitlab()
        items: list[dict[str, Any]] = []
        page = "1"
        while page:
            response = await api.send(
                "GET", path, what, params={**params, "per_page": PER_PAGE, "page": page}
            )
            if response.status_code == 404:
                return items
            if response.status_code != 200:
                raise AdapterError(f"{what}: {response.status_code} {response.text[:200]}")
            items.extend(response.json())
            page = response.headers.get("X-Next-Page", "")
        return items

    async def _project(self, repository: str) -> dict[str, Any] | None:
        """The project holding ``repository``: the longest leading path that is one."""
        api = await self._gitlab()
        parts = repository.split("/")
        for end in range(len(parts), 1, -1):
            path = "/".join(parts[:end])
            response = await api.send(
                "GET", f"/api/v4/projects/{quote(path, safe='')}", f"finding project {path}"
            )
            if response.status_code == 200:
                project: dict[str, Any] = response.json()
                return project
            if response.status_code != 404:
                raise AdapterError(f"finding project {path}: {response.status_code}")
        return None

    async def _location(self, repository: str) -> tuple[int, int] | None:
        """(project id, registry repository id) of ``repository``."""
        if repository not in self._locations:
            project = await self._project(repository)
            if project is None:
                return None
            await self._remember(int(project["id"]), f"locating {repository}")
        return self._locations.get(repository)

    async def _remember(self, project_id: int, what: str) -> list[str]:
        rows = await self._all(f"/api/v4/projects/{project_id}/registry/repositories", what)
        for row in rows:
            self._locations[str(row["path"]).lower()] = (project_id, int(row["id"]))
        return [str(row["path"]).lower() for row in rows]

    async def list_repositories(self) -> list[str]:
        names: list[str] = []
        projects = await self._all("/api/v4/projects", "listing projects", membership="true")
        for project in projects:
            if project.get("container_registry_access_level", "enabled") == "disabled":
                continue
            names.extend(
                await self._remember(
                    int(project["id"]), f"listing repositories of {project['path_with_namespace']}"
                )
            )
        return names

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        location = await self._location(repository)
        if location is None:
            return []
        project_id, repository_id = location
        rows = await self._all(
            f"/api/v4/projects/{project_id}/registry/repositories/{repository_id}/tags",
            f"listing tags of {repository}",
        )
        by_digest: dict[str, list[str]] = {}
        for row in rows:
            digest = await self.manifest_digest(repository, str(row["name"]))
            if digest is not None:
                by_digest.setdefault(digest, []).append(str(row["name"]))
        return [RemoteArtifact(d, tuple(tags)) for d, tags in by_digest.items()]

    async def prepare_for_push(self, repositories: list[str]) -> None:
        for repository in sorted(set(repositories)):
            if await self._project(repository) is None:
                raise AdapterError(
                    f"no GitLab project holds {repository}; GitLab makes no projects on push"
                )

    async def delete_tag(self, repository: str, tag: str) -> None:
        location = await self._location(repository)
        if location is None:
            raise NotFound(f"{repository} not found")
        project_id, repository_id = location
        api = await self._gitlab()
        await api.delete(
            f"/api/v4/projects/{project_id}/registry/repositories/{repository_id}"
            f"/tags/{quote(tag, safe='')}",
            f"deleting tag {repository}:{tag}",
        )
