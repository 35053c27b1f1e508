"""Pushing, pulling and deleting manifests; tags; referrers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.db import artifacts, manifest_push, repositories, tags
from registry.events import DELETE_ARTIFACT, DELETE_TAG, PULL_ARTIFACT, PUSH_ARTIFACT
from registry.oci import mediatypes
from registry.oci.digest import Digest, looks_like_digest
from registry.oci.manifest import Descriptor, InvalidManifestError, Manifest, parse_manifest
from registry.oci.names import is_valid_tag
from registry.rbac import ProjectRef
from registry.services import notify, read_cache, scan
from registry.services.artifact import check_tags_mutable, kind_for, remove_artifacts
from registry.services.audit import PULL, AuditEvent
from registry.services.blob import parse_digest
from registry.services.context import Backends
from registry.services.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
)


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes
    artifact_id: int
    repository_id: int
    tag_id: int | None = None


@dataclass(frozen=True, slots=True)
class PushedManifest:
    digest: Digest
    subject: str | None
    created: bool


def parse_reference(reference: str) -> str | Digest:
    """A manifest reference is a digest when it has a colon, else a tag."""
    if looks_like_digest(reference):
        return parse_digest(reference)
    if not is_valid_tag(reference):
        raise TagInvalid(f"invalid tag {reference!r}", {"tag": reference})
    return reference


async def get_manifest(
    b: Backends,
    repository: str,
    reference: str,
    facts: read_cache.ProjectFacts | None = None,
) -> StoredManifest:
    """The manifest ``reference`` names; from what this process knows of the project
    (``facts``, when given) unless it has to be read."""
    ref = parse_reference(reference)
    if facts is not None:
        cached = _cached_manifest(b, facts, repository, ref)
        if cached is not None:
            return cached
    if isinstance(ref, Digest):
        row = await artifacts.get_by_digest(b.db, repository, str(ref))
    else:
        row = await artifacts.get_by_tag(b.db, repository, ref)
    if row is None:
        raise ManifestUnknown(detail={"reference": reference})
    stored = StoredManifest(
        row["digest"],
        row["media_type"],
        bytes(row["manifest"]),
        row["id"],
        row["repository_id"],
        row.get("tag_id"),
    )
    if facts is not None:
        b.read_cache.remember_manifest(
            facts,
            repository,
            read_cache.CachedManifest(
                stored.digest,
                stored.media_type,
                stored.content,
                stored.artifact_id,
                stored.repository_id,
            ),
        )
        if stored.tag_id is not None and isinstance(ref, str):
            facts.remember_tag(repository, ref, stored.digest, stored.tag_id)
    return stored


def _cached_manifest(
    b: Backends, facts: read_cache.ProjectFacts, repository: str, ref: str | Digest
) -> StoredManifest | None:
    tag_id = None
    if isinstance(ref, Digest):
        digest = str(ref)
    else:
        tagged = facts.tags.get((repository, ref))
        if tagged is None:
            return None
        digest, tag_id = tagged
    found = b.read_cache.manifest(facts, repository, digest)
    if found is None:
        return None
    return StoredManifest(
        found.digest,
        found.media_type,
        found.content,
        found.artifact_id,
        found.repository_id,
        tag_id,
    )


async def pull_manifest(
    b: Backends,
    project: ProjectRef,
    repository: str,
    reference: str,
    operator: str,
    facts: read_cache.ProjectFacts | None = None,
) -> StoredManifest:
    """A client's GET of a manifest: the manifest, with the pull recorded (pull time and count,
    audit record, ``PULL_ARTIFACT`` event). HEAD requests use :func:`get_manifest`."""
    stored = await get_manifest(b, repository, reference, facts)
    tag = None if looks_like_digest(reference) else reference
    b.audit.record_pull(stored.artifact_id, stored.tag_id, stored.repository_id)
    notify.artifact_event(b, PULL_ARTIFACT, project, repository, stored.digest, tag, operator)
    await b.audit.record(
        AuditEvent(PULL, "artifact", audit_resource(repository, reference), operator, project.id)
    )
    return stored


def audit_resource(repository: str, reference: str) -> str:
    """How the audit log names an artifact: ``repo:tag`` or ``repo@digest``."""
    return f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"


def _check_size(b: Backends, size: int) -> None:
    if size > b.settings.max_manifest_bytes:
        raise ManifestTooLarge(
            f"manifest exceeds the {b.settings.max_manifest_bytes} byte limit",
            {"size": size, "limit": b.settings.max_manifest_bytes},
        )


def check_manifest_length(b: Backends, content_length: int | None) -> None:
    """Refuse an oversized manifest from its Content-Length, before reading the body."""
    if content_length is not None:
        _check_size(b, content_length)


async def put_manifest(
    b: Backends,
    project: ProjectRef,
    repository: str,
    reference: str,
    content: bytes,
    content_type: str | None,
    operator: str,
    facts: read_cache.ProjectFacts | None = None,
) -> PushedManifest:
    """Store a pushed manifest (and move the tag); then record the push (audit record,
    ``PUSH_ARTIFACT`` and, near the quota, ``QUOTA_WARNING``). ``facts``, the project's as
    the request found them, spare what follows the push some lookups."""
    pushed = await _store_manifest(b, project, repository, reference, content, content_type)
    tag = None if looks_like_digest(reference) else reference
    await b.audit.record(
        AuditEvent(
            "create", "artifact", audit_resource(repository, reference), operator, project.id
        )
    )
    digest = str(pushed.digest)
    notify.artifact_event(b, PUSH_ARTIFACT, project, repository, digest, tag, operator, facts=facts)
    notify.quota_warning_if_needed(b, project, repository, digest, tag, operator, facts)
    scan.schedule_scan_on_push(b, project, repository, digest, facts)
    return pushed


async def store_manifest(
    b: Backends,
    project: ProjectRef,
    repository: str,
    reference: str,
    content: bytes,
    content_type: str | None,
) -> PushedManifest:
    """Store a manifest (and move the tag) without recording a push: for services that
    record and announce the operation in their own terms (a chart upload)."""
    return await _store_manifest(b, project, repository, reference, content, content_type)


async def _store_manifest(
    b: Backends,
    project: ProjectRef,
    repository: str,
    reference: str,
    content: bytes,
    content_type: str | None,
) -> PushedManifest:
    _check_size(b, len(content))
    ref = parse_reference(reference)
    algorithm = ref.algorithm if isinstance(ref, Digest) else "sha256"
    digest = Digest.of(content, algorithm)
    if isinstance(ref, Digest) and ref != digest:
        raise DigestInvalid(
            "manifest digest does not match the reference",
            {"expected": str(ref), "actual": str(digest)},
        )
    try:
        manifest = parse_manifest(content, content_type)
    except InvalidManifestError as exc:
        raise ManifestInvalid(str(exc)) from None

    tag = ref if isinstance(ref, str) else None
    found = await manifest_push.referenced(
        b.db,
        project.id,
        repository,
        list(dict.fromkeys(d.digest for d in manifest.blobs)),
        [d.digest for d in manifest.children],
        tag,
    )
    blob_ids = _referenced_blobs(manifest, found.blobs)
    children = _referenced_children(manifest, found.children)
    moved = tag is not None and found.tagged is not None and found.tagged != str(digest)
    if moved:
        assert tag is not None
        await check_tags_mutable(b, project, repository, [tag])
    try:
        _, created = await manifest_push.store(
            b.db,
            project.id,
            repository,
            manifest_push.NewArtifact(
                digest=str(digest),
                media_type=manifest.media_type,
                artifact_type=manifest.artifact_type,
                config_media_type=manifest.config_media_type,
                manifest=content,
                subject_digest=manifest.subject.digest if manifest.subject else None,
                annotations=manifest.annotations,
                artifact_kind=kind_for(manifest.media_type, manifest.config_media_type),
                blob_ids=blob_ids,
                children=children,
            ),
            tag,
        )
    except asyncpg.ForeignKeyViolationError:
        # Garbage collection took a blob (or a child was deleted) between the check and the
        # link; the statement stored nothing.
        raise ManifestBlobUnknown("a referenced blob or manifest was just deleted") from None
    if moved:
        await read_cache.changed(b.redis, project.name)
    return PushedManifest(digest, manifest.subject.digest if manifest.subject else None, created)


def _referenced_blobs(manifest: Manifest, found: dict[str, tuple[int, int]]) -> list[int]:
    wanted = list(dict.fromkeys(d.digest for d in manifest.blobs))
    missing = [d for d in wanted if d not in found]
    if missing:
        raise ManifestBlobUnknown(
            f"blob {missing[0]} is not in this project", {"digest": missing[0]}
        )
    for descriptor in manifest.blobs:
        _check_descriptor_size(descriptor, found[descriptor.digest][1])
    return [found[d][0] for d in wanted]


def _check_descriptor_size(descriptor: Descriptor, actual: int) -> None:
    # A descriptor must state the content's real size, or a client that trusts it reads too
    # little or waits for bytes that never come.
    if descriptor.size != actual:
        raise SizeInvalid(
            f"descriptor of {descriptor.digest} gives size {descriptor.size}, the content has "
            f"{actual}",
            {"digest": descriptor.digest, "size": descriptor.size, "actual": actual},
        )


def _referenced_children(
    manifest: Manifest, found: dict[str, tuple[int, int]]
) -> list[tuple[int, dict[str, Any] | None]]:
    for child in manifest.children:
        if child.digest not in found:
            raise ManifestBlobUnknown(
                f"manifest {child.digest} is not in this repository", {"digest": child.digest}
            )
        _check_descriptor_size(child, found[child.digest][1])
    return [(found[d.digest][0], d.platform) for d in manifest.children]


async def delete_manifest(
    b: Backends, project: ProjectRef, repository: str, reference: str, operator: str
) -> None:
    """Delete by digest (the artifact and its tags) or by tag (the tag alone), and record it;
    only an artifact deletion is a ``DELETE_ARTIFACT`` event, as in Harbor (a tag alone is a
    ``DELETE_TAG``, which replication follows)."""
    ref = parse_reference(reference)
    if isinstance(ref, str):
        await check_tags_mutable(b, project, repository, [ref])
        tagged = await tags.delete(b.db, repository, ref)
        if tagged is None:
            raise ManifestUnknown(detail={"reference": reference})
        await read_cache.changed(b.redis, project.name)
        notify.tag_event(b, DELETE_TAG, repository, tagged, ref)
    else:
        digest, first_tag = await _delete_artifact(b, project, repository, str(ref), reference)
        notify.artifact_event(b, DELETE_ARTIFACT, project, repository, digest, first_tag, operator)
    await b.audit.record(
        AuditEvent(
            "delete", "artifact", audit_resource(repository, reference), operator, project.id
        )
    )


async def _delete_artifact(
    b: Backends, project: ProjectRef, repository: str, digest: str, reference: str
) -> tuple[str, str | None]:
    row = await artifacts.get_by_digest(b.db, repository, digest)
    if row is None:
        raise ManifestUnknown(detail={"reference": reference})
    names = [t["name"] for t in (await artifacts.tags_of(b.db, [row["id"]]))[row["id"]]]
    await check_tags_mutable(b, project, repository, names)
    await remove_artifacts(b, project, [row["id"]])
    return row["digest"], (names[0] if names else None)


async def list_tags(b: Backends, repository: str, last: str | None, limit: int) -> list[str]:
    names = await tags.list_names_by_repository(b.db, repository, last, limit)
    if names is None:
        raise NameUnknown(detail={"name": repository})
    return names


async def list_repositories(b: Backends, last: str | None, limit: int) -> list[str]:
    return await repositories.list_names(b.db, last, limit)


async def referrers(
    b: Backends, repository: str, subject: Digest, artifact_type: str | None
) -> dict[str, Any]:
    """An OCI index of the manifests whose subject is ``subject``."""
    rows = await artifacts.referrers(b.db, repository, str(subject), artifact_type)
    descriptors = []
    for row in rows:
        descriptor: dict[str, Any] = {
            "mediaType": row["media_type"],
            "digest": row["digest"],
            "size": row["size"],
        }
        if row["artifact_type"]:
            descriptor["artifactType"] = row["artifact_type"]
        annotations = artifacts.annotations_json(row["annotations"])
        if annotations:
            descriptor["annotations"] = annotations
        descriptors.append(descriptor)
    return {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": descriptors}
