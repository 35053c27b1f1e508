"""The ``harbor`` adapter: Harbor 2.x, and Berth itself, which answers the same calls.

Listing goes through the management API (projects, repositories, artifacts with their tags
and labels: Harbor keeps ``_catalog`` to system admins), projects are created before a push,
and tags can be deleted alone; everything else is the distribution API.
"""

from __future__ import annotations

from urllib.parse import quote

from registry.replication.adapter import AdapterError, NotFound, RegistryInfo, RemoteArtifact
from registry.replication.distribution import DistributionAdapter

TYPE = "harbor"
PAGE_SIZE = 100
INFO = RegistryInfo(
    TYPE,
    "Harbor 2.x, or another Berth",
    supported_triggers=("manual", "scheduled", "event_based"),
    supported_resource_filters=(
        {"type": "name", "style": "input"},
        {"type": "tag", "style": "input"},
        {"type": "label", "style": "input"},
        {"type": "resource", "style": "radio", "values": ["image", "artifact"]},
    ),
    supported_repository_path_component_type="AT_LEAST_TWO",
    supported_copy_by_chunk=True,
)


def _escaped(repository: str) -> str:
    """Harbor's double escaping of a repository inside a path: ``a/b`` -> ``a%252Fb``."""
    return quote(quote(repository, safe=""), safe="")


class HarborAdapter(DistributionAdapter):
    def info(self) -> RegistryInfo:
        return INFO

    async def ping(self) -> None:
        response = await self._send("GET", "/api/version", "ping")
        if response.status_code != 200:
            raise AdapterError(f"GET /api/version answered {response.status_code}")
        await super().ping()

    async def _pages(self, path: str, what: str) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        page = 1
        separator = "&" if "?" in path else "?"
        while True:
            response = await self._send(
                "GET", f"{path}{separator}page={page}&page_size={PAGE_SIZE}", what
            )
            if response.status_code == 404:
                return items
            if response.status_code != 200:
                raise AdapterError(f"{what}: {response.status_code}")
            batch = response.json()
            items.extend(batch)
            if len(batch) < PAGE_SIZE:
                return items
            page += 1

    async def list_repositories(self) -> list[str]:
        names: list[str] = []
        for project in await self._pages("/api/v2.0/projects", "listing projects"):
            repositories = await self._pages(
                f"/api/v2.0/projects/{quote(str(project['name']), safe='')}/repositories",
                f"listing repositories of {project['name']}",
            )
            names.extend(str(r["name"]) for r in repositories)
        return names

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        project, _, name = repository.partition("/")
        rows = await self._pages(
            f"/api/v2.0/projects/{quote(project, safe='')}/repositories/{_escaped(name)}"
            "/artifacts?with_tag=true&with_label=true",
            f"listing artifacts of {repository}",
        )
        found = []
        for row in rows:
            tags = tuple(str(t["name"]) for t in row.get("tags") or [])  # type: ignore[attr-defined]
            labels = tuple(str(lb["name"]) for lb in row.get("labels") or [])  # type: ignore[attr-defined]
            if tags:
                found.append(RemoteArtifact(str(row["digest"]), tags, labels))
        return found

    async def prepare_for_push(self, repositories: list[str]) -> None:
        for project in sorted({r.split("/", 1)[0] for r in repositories}):
            response = await self._send(
                "HEAD", f"/api/v2.0/projects?project_name={quote(project)}", "finding a project"
            )
            if response.status_code == 200:
                continue
            created = await self._send(
                "POST",
                "/api/v2.0/projects",
                f"creating project {project}",
                json={"project_name": project, "metadata": {"public": "false"}},
            )
            # 409: made in the meantime (another task, another replication).
            if created.status_code not in (201, 409):
                raise AdapterError(
                    f"creating project {project}: {created.status_code} {created.text[:200]}"
                )

    async def delete_tag(self, repository: str, tag: str) -> None:
        project, _, name = repository.partition("/")
        response = await self._send(
            "DELETE",
            f"/api/v2.0/projects/{quote(project, safe='')}/repositories/{_escaped(name)}"
            f"/artifacts/{quote(tag, safe='')}/tags/{quote(tag, safe='')}",
            f"deleting tag {repository}:{tag}",
        )
        if response.status_code == 404:
            raise NotFound(f"{repository}:{tag} not found")
        if response.status_code != 200:
            raise AdapterError(f"deleting tag {repository}:{tag}: {response.status_code}")
