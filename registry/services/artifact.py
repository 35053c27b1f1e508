"""Artifacts as the management API sees them: kinds, image details, tags, copies, deletion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import artifacts, labels, repositories, tags
from registry.db import blobs as blob_links
from registry.db.pool import Executor
from registry.events import CREATE_TAG, DELETE_ARTIFACT, DELETE_TAG
from registry.oci import mediatypes
from registry.oci.digest import Digest, looks_like_digest
from registry.oci.names import is_valid_tag
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services import notify, quota, read_cache
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    ArtifactInUse,
    ManifestUnknown,
    ResourceUnknown,
    TagExists,
    TagImmutable,
    TagInvalid,
)
from registry.services.immutability import immutable_tags
from registry.storage import layout
from registry.storage.base import StorageError

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
CNAB_CONFIG = "application/vnd.cnab.config.v1+json"
# Image configs are small; anything bigger is not worth reading for display.
_MAX_CONFIG_BYTES = 1024 * 1024

ACCESSORY_TYPES = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature.cosign",
    "application/vnd.cncf.notary.signature": "signature.notation",
    "application/vnd.goharbor.harbor.sbom.v1": "harbor.sbom",
    # cosign v3 signs in OCI 1.1 mode with a sigstore bundle (Harbor reads it as unsigned).
    "application/vnd.dev.sigstore.bundle.v0.3+json": "signature.cosign",
    # cosign's tag-mode attestations (``sha256-<hex>.att``) and SBOMs (``.sbom``).
    artifacts.TAG_MODE_TYPES["att"]: "attestation.cosign",
    artifacts.TAG_MODE_TYPES["sbom"]: "sbom.cosign",
}


async def find_artifact(b: Backends, repository: str, reference: str) -> asyncpg.Record:
    """The artifact ``reference`` (a tag, or a digest when it holds ``:``) names."""
    if ":" in reference:
        row = await artifacts.get_by_digest(b.db, repository, reference)
    else:
        row = await artifacts.get_by_tag(b.db, repository, reference)
    if row is None:
        raise ResourceUnknown(f"artifact {repository}:{reference} not found")
    return row


def kind_of(row: asyncpg.Record) -> str:
    return kind_for(row["media_type"], row["config_media_type"])


def kind_for(media_type: str, config: str | None) -> str:
    """Harbor's artifact ``type``."""
    if media_type in mediatypes.INDEXES or config in IMAGE_CONFIGS:
        return "IMAGE"
    if config == HELM_CONFIG:
        return "CHART"
    if config == CNAB_CONFIG:
        return "CNAB"
    return "UNKNOWN"


async def extra_attrs(b: Backends, row: asyncpg.Record) -> dict[str, Any]:
    """architecture/os/config/created/author from an image config, read once and kept."""
    if row["extra_attrs"] is not None:
        attrs: dict[str, Any] = row["extra_attrs"]
        return attrs
    attrs = {}
    config_type = row["config_media_type"]
    if config_type in IMAGE_CONFIGS or config_type == HELM_CONFIG:
        manifest = await b.db.fetchval("SELECT manifest FROM artifacts WHERE id = $1", row["id"])
        try:
            descriptor = json.loads(manifest)["config"]
            if descriptor["size"] <= _MAX_CONFIG_BYTES:
                raw = await b.storage.get_content(
                    layout.blob_path(Digest.parse(descriptor["digest"]))
                )
                config = json.loads(raw)
                if config_type == HELM_CONFIG:
                    attrs = config if isinstance(config, dict) else {}
                else:
                    attrs = {
                        key: config.get(key)
                        for key in ("architecture", "os", "config", "created", "author")
                        if key in config
                    }
        except (ValueError, KeyError, TypeError, StorageError):
            attrs = {}
    await artifacts.set_extra_attrs(b.db, row["id"], attrs)
    return attrs


async def check_tags_mutable(
    b: Backends, project: ProjectRef, repository: str, names: list[str]
) -> None:
    if not names:
        return
    protected = await immutable_tags(b.db, project.id, repository, names)
    if protected:
        raise TagImmutable(f"tag {sorted(protected)[0]} is immutable in {repository}")


async def delete_artifact(
    b: Backends, actor: Principal, project: ProjectRef, repository: str, artifact_id: int
) -> None:
    row = await artifacts.get_detail_by_id(b.db, artifact_id)
    if row is None:
        raise ManifestUnknown()
    if await artifacts.parents_of(b.db, artifact_id):
        raise ArtifactInUse("the artifact is referenced by an index; delete the index first")
    names = [t["name"] for t in (await artifacts.tags_of(b.db, [artifact_id]))[artifact_id]]
    await check_tags_mutable(b, project, repository, names)
    await remove_artifacts(b, project, [artifact_id])
    await b.audit.record(
        AuditEvent("delete", "artifact", f"{repository}@{row['digest']}", actor.name, project.id)
    )
    notify.artifact_event(
        b,
        DELETE_ARTIFACT,
        project,
        repository,
        row["digest"],
        names[0] if names else None,
        actor.name,
    )


async def create_tag(
    b: Backends, actor: Principal, project: ProjectRef, repository: str, artifact_id: int, name: str
) -> None:
    if not is_valid_tag(name):
        raise TagInvalid(f"invalid tag {name!r}")
    repo_id = await repositories.get_id(b.db, repository)
    assert repo_id is not None
    existing = await b.db.fetchval(
        "SELECT artifact_id FROM tags WHERE repository_id = $1 AND name = $2", repo_id, name
    )
    if existing is not None:
        raise TagExists(f"tag {name} already exists in {repository}")
    await tags.point(b.db, repo_id, name, artifact_id)
    # Only a tag that moves or goes away needs announcing; a new one was never cached.
    await b.audit.record(
        AuditEvent("create", "tag", f"{repository}:{name}", actor.name, project.id)
    )
    digest = await b.db.fetchval("SELECT digest FROM artifacts WHERE id = $1", artifact_id)
    notify.tag_event(b, CREATE_TAG, repository, digest, name)


async def delete_tag(
    b: Backends, actor: Principal, project: ProjectRef, repository: str, name: str
) -> None:
    await check_tags_mutable(b, project, repository, [name])
    digest = await tags.delete(b.db, repository, name)
    if digest is None:
        raise ManifestUnknown(f"tag {name} not found")
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(
        AuditEvent("delete", "tag", f"{repository}:{name}", actor.name, project.id)
    )
    notify.tag_event(b, DELETE_TAG, repository, digest, name)


@dataclass(frozen=True, slots=True)
class CopySource:
    project: ProjectRef
    repository: str
    reference: str


async def copy_artifact(
    b: Backends, actor: Principal, source: CopySource, target: ProjectRef, repository: str
) -> str:
    """Copy an artifact (and, for an index, its children) into ``repository``. Blobs are
    linked into the target project, never copied. Returns the digest."""
    ref = source.reference
    if looks_like_digest(ref):
        row = await artifacts.get_by_digest(b.db, source.repository, ref)
        tag_name = None
    else:
        row = await artifacts.get_by_tag(b.db, source.repository, ref)
        tag_name = ref
    if row is None:
        raise ManifestUnknown(f"{source.repository}:{ref} not found")
    async with b.db.acquire() as conn, conn.transaction():
        await quota.lock_project(conn, target.id)
        repo_id = await repositories.ensure(conn, target.id, repository)
        new_id = await _copy_one(b, conn, row["id"], target, repo_id)
        if tag_name is not None:
            await check_tags_mutable(b, target, repository, [tag_name])
            await tags.point(conn, repo_id, tag_name, new_id)
    if tag_name is not None:
        await read_cache.changed(b.redis, target.name)
    await b.audit.record(
        AuditEvent("create", "artifact", f"{repository}@{row['digest']}", actor.name, target.id)
    )
    digest: str = row["digest"]
    return digest


async def _copy_one(
    b: Backends, conn: Executor, artifact_id: int, target: ProjectRef, repo_id: int
) -> int:
    src = await conn.fetchrow("SELECT * FROM artifacts WHERE id = $1", artifact_id)
    if src is None:
        raise ManifestUnknown("the artifact disappeared while it was being copied")
    child_ids = []
    for child in (await artifacts.children_of(conn, [artifact_id]))[artifact_id]:
        child_ids.append(
            (await _copy_one(b, conn, child["child_id"], target, repo_id), child["platform"])
        )
    new_id, created = await artifacts.upsert(
        conn,
        repository_id=repo_id,
        digest=src["digest"],
        media_type=src["media_type"],
        artifact_type=src["artifact_type"],
        config_media_type=src["config_media_type"],
        manifest=bytes(src["manifest"]),
        subject_digest=src["subject_digest"],
        annotations=src["annotations"],
    )
    if created:
        blobs = await artifacts.blob_ids(conn, artifact_id)
        held = await blob_links.held_by_project(conn, target.id, [blob_id for blob_id, _ in blobs])
        adding = [(blob_id, size) for blob_id, size in blobs if blob_id not in held]
        await quota.check_room(conn, target.id, sum(size for _, size in adding))
        for blob_id, _ in adding:
            await blob_links.link_to_project(conn, target.id, blob_id)
        await artifacts.link_blobs(conn, new_id, [blob_id for blob_id, _ in blobs])
        if child_ids:
            await artifacts.link_children(conn, new_id, child_ids)
    return new_id


def accessory_type(artifact_type: str | None) -> str:
    return ACCESSORY_TYPES.get(artifact_type or "", "subject.accessory")


async def remove_artifacts(b: Backends, project: ProjectRef, artifact_ids: list[int]) -> None:
    """Delete artifacts and release the project's hold on blobs nothing else there uses; the
    bytes themselves go at garbage collection. Their accessories (signatures, attestations,
    SBOMs, by subject or cosign tag) go with them, as in Harbor."""
    async with b.db.acquire() as conn, conn.transaction():
        artifact_ids = [*artifact_ids, *await artifacts.accessory_ids(conn, artifact_ids)]
        blob_ids = [
            r["blob_id"]
            for r in await conn.fetch(
                "SELECT DISTINCT blob_id FROM artifact_blobs WHERE artifact_id = ANY($1::bigint[])",
                artifact_ids,
            )
        ]
        await conn.execute("DELETE FROM artifacts WHERE id = ANY($1::bigint[])", artifact_ids)
        await blob_links.release_unreferenced(conn, project.id, blob_ids)
    await read_cache.changed(b.redis, project.name)


async def list_artifacts(
    b: Backends, repository: str, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    return await artifacts.list_artifacts(b.db, repository, query)


async def list_project_artifacts(
    b: Backends, project: ProjectRef, query: ListQuery, latest_in_repository: bool = False
) -> tuple[list[asyncpg.Record], int]:
    """The artifacts of every repository of the project (only each repository's latest push,
    with ``latest_in_repository``)."""
    return await artifacts.list_project_artifacts(b.db, project.id, query, latest_in_repository)


async def artifact_detail(b: Backends, repository: str, reference: str) -> asyncpg.Record:
    """The artifact a tag or digest names, with its size, repository and project."""
    if looks_like_digest(reference):
        found = await artifacts.get_by_digest(b.db, repository, reference)
    else:
        found = await artifacts.get_by_tag(b.db, repository, reference)
    if found is None:
        raise ResourceUnknown(f"artifact {repository}:{reference} not found")
    row = await artifacts.get_detail_by_id(b.db, found["id"])
    assert row is not None
    return row


async def tags_of(b: Backends, artifact_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    """Each artifact's tags, newest first."""
    return await artifacts.tags_of(b.db, artifact_ids)


async def children_of(b: Backends, artifact_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    """What each index references, with platforms."""
    return await artifacts.children_of(b.db, artifact_ids)


async def labels_of(b: Backends, artifact_ids: list[int]) -> dict[int, list[asyncpg.Record]]:
    """Each artifact's labels, by name."""
    return await labels.of_artifacts(b.db, artifact_ids, by_name=True)


async def accessories_of(b: Backends, row: asyncpg.Record) -> list[asyncpg.Record]:
    """Signatures, SBOMs and other artifacts whose subject is ``row``."""
    return await artifacts.accessories_of(b.db, row["repository_id"], row["digest"])


async def build_history(b: Backends, row: asyncpg.Record) -> list[Any] | None:
    """An image's ``history`` from its config; None for what is not an image."""
    if kind_of(row) != "IMAGE":
        return None
    manifest = await artifacts.manifest_of(b.db, row["id"])
    config = json.loads(manifest or "{}").get("config")
    if not config:
        return []
    raw = await b.storage.get_content(layout.blob_path(Digest.parse(config["digest"])))
    history: list[Any] = json.loads(raw).get("history", [])
    return history
