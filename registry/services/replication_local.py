"""This Berth as a replication adapter: the same protocol the remote adapters speak, answered
by the services a client's push and pull go through (so quotas, immutable tags, audit and
push events all apply to what replication writes)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from registry.auth.principal import Principal, PrincipalKind
from registry.db import labels
from registry.db import replication as replication_db
from registry.oci.digest import Digest
from registry.replication.adapter import Manifest, NotFound, RegistryInfo, RemoteArtifact
from registry.services import blob, manifest
from registry.services import project as project_service
from registry.services.context import Backends
from registry.services.errors import (
    BlobUnknown,
    ManifestUnknown,
    NameUnknown,
    ProjectExists,
)
from registry.services.project import project_for
from registry.services.upload import upload_whole

INFO = RegistryInfo(
    "harbor",
    "this Berth",
    supported_triggers=("manual", "scheduled", "event_based"),
    supported_repository_path_component_type="AT_LEAST_TWO",
)
_PAGE = 1000


class LocalAdapter:
    def __init__(self, b: Backends, operator: str) -> None:
        self._b = b
        self._operator = operator

    def info(self) -> RegistryInfo:
        return INFO

    async def ping(self) -> None:
        """Always reachable: it is this process's own database and storage."""

    async def close(self) -> None:
        """Nothing to release: the backends belong to the process."""

    async def list_repositories(self) -> list[str]:
        names: list[str] = []
        last = None
        while True:
            page = await manifest.list_repositories(self._b, last, _PAGE)
            names.extend(page)
            if len(page) < _PAGE:
                return names
            last = page[-1]

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        rows = await replication_db.tagged_artifacts(self._b.db, repository)
        by_id: dict[int, tuple[str, list[str]]] = {}
        for row in rows:
            by_id.setdefault(row["artifact_id"], (row["digest"], []))[1].append(row["tag"])
        names = await labels.of_artifacts(self._b.db, list(by_id), by_name=True)
        return [
            RemoteArtifact(digest, tuple(tags), tuple(lb["name"] for lb in names.get(aid, [])))
            for aid, (digest, tags) in by_id.items()
        ]

    async def prepare_for_push(self, repositories: list[str]) -> None:
        actor = Principal(self._operator, PrincipalKind.USER, sysadmin=True)
        for name in sorted({r.split("/", 1)[0] for r in repositories}):
            if await project_service.project_exists(self._b, name):
                continue
            # ProjectExists: made in the meantime by another task.
            with contextlib.suppress(ProjectExists):
                await project_service.create_project(self._b, actor, name, {"public": "false"})

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        try:
            return (await manifest.get_manifest(self._b, repository, reference)).digest
        except (ManifestUnknown, NameUnknown):
            return None

    async def pull_manifest(self, repository: str, reference: str) -> Manifest:
        try:
            stored = await manifest.get_manifest(self._b, repository, reference)
        except (ManifestUnknown, NameUnknown):
            raise NotFound(f"manifest {repository}:{reference} not found") from None
        return Manifest(stored.content, stored.media_type, stored.digest)

    async def push_manifest(self, repository: str, reference: str, pushed: Manifest) -> None:
        project = await project_for(self._b.db, repository)
        await manifest.put_manifest(
            self._b,
            project,
            repository,
            reference,
            pushed.content,
            pushed.media_type,
            self._operator,
        )

    async def delete_manifest(self, repository: str, digest: str) -> None:
        project = await project_for(self._b.db, repository)
        try:
            await manifest.delete_manifest(self._b, project, repository, digest, self._operator)
        except ManifestUnknown:
            raise NotFound(f"{repository}@{digest} not found") from None

    async def delete_tag(self, repository: str, tag: str) -> None:
        await self.delete_manifest(repository, tag)

    async def blob_exists(self, repository: str, digest: str) -> bool:
        try:
            project = await project_for(self._b.db, repository)
            await blob.stat_blob(self._b, project, Digest.parse(digest))
        except (BlobUnknown, NameUnknown):
            return False
        return True

    async def pull_blob(self, repository: str, digest: str) -> AsyncIterator[bytes]:
        project = await project_for(self._b.db, repository)
        parsed = Digest.parse(digest)
        try:
            await blob.stat_blob(self._b, project, parsed)
        except BlobUnknown:
            raise NotFound(f"blob {digest} not found in {repository}") from None
        async for chunk in blob.read_blob(self._b, parsed):
            yield chunk

    async def open_blob(self, repository: str, digest: str) -> tuple[int, AsyncIterator[bytes]]:
        project = await project_for(self._b.db, repository)
        parsed = Digest.parse(digest)
        try:
            info = await blob.stat_blob(self._b, project, parsed)
        except BlobUnknown:
            raise NotFound(f"blob {digest} not found in {repository}") from None
        return info.size, blob.read_blob(self._b, parsed)

    async def push_blob(
        self, repository: str, digest: str, size: int, chunks: AsyncIterator[bytes]
    ) -> None:
        project = await project_for(self._b.db, repository)
        await upload_whole(
            self._b,
            project,
            repository,
            Digest.parse(digest),
            chunks,
            size,
            operator=self._operator,
        )

    async def referrers(self, repository: str, digest: str) -> list[str]:
        try:
            index = await manifest.referrers(self._b, repository, Digest.parse(digest), None)
        except NameUnknown:
            return []
        return [str(m["digest"]) for m in index["manifests"]]
