"""The project policies that can refuse a manifest pull (GET or HEAD, by tag or by digest):
content trust (only signed images: ``enable_content_trust_cosign``, ``enable_content_trust``
for notation) and ``prevent_vul`` (no image with a vulnerability at or above ``severity``,
allowlists aside, and no image that was not scanned).

Exempt, as in Harbor: the scanner's own pulls, pulls of signatures and other accessories, and
for content trust the signing clients (cosign, notation) of callers who may push.

A proxy project's first pull of an artifact (served from upstream while it is cached) meets
the same policies: the cache holds no scan report or signature for it yet, so an image is
refused where the policies ask for one.
"""

from __future__ import annotations

import json

import asyncpg

from registry.db import artifacts, projects, scan_reports
from registry.oci import mediatypes
from registry.rbac import ProjectRef
from registry.scanners import cvss
from registry.services import cve_allowlist, project_metadata, read_cache, scanner, signature
from registry.services.artifact import ACCESSORY_TYPES, IMAGE_CONFIGS
from registry.services.context import Backends
from registry.services.errors import PolicyViolation
from registry.services.scan import VULNERABILITY, scannable

_POLICY_KEYS = ("prevent_vul", "enable_content_trust", "enable_content_trust_cosign")


async def check_pull(
    b: Backends,
    project: ProjectRef,
    artifact_id: int,
    *,
    scanner_pull: bool,
    signing_client: bool,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    """Raise ``PolicyViolation`` when the project's policies refuse this pull."""
    metadata = await project_metadata.cached(b, project, facts)
    if not any(metadata.get(key) == "true" for key in _POLICY_KEYS) or scanner_pull:
        return
    artifact = await artifacts.get_detail_by_id(b.db, artifact_id)
    if artifact is None or _is_accessory(artifact) or await _is_tag_mode_signature(b, artifact):
        return
    if not signing_client:
        if metadata.get("enable_content_trust_cosign") == "true" and not await signature.is_signed(
            b, project, artifact, signature.COSIGN
        ):
            raise PolicyViolation("The image is not signed by cosign.")
        if metadata.get("enable_content_trust") == "true" and not await signature.is_signed(
            b, project, artifact, signature.NOTATION
        ):
            raise PolicyViolation("The image is not signed by notation.")
    if metadata.get("prevent_vul") == "true":
        await _check_vulnerabilities(b, project, artifact, metadata)


async def check_uncached_pull(
    b: Backends,
    project: ProjectRef,
    media_type: str,
    content: bytes,
    *,
    scanner_pull: bool,
    signing_client: bool,
) -> None:
    """``check_pull`` for a manifest the project does not hold yet (a proxy project's first
    pull of it): nothing vouches for it, so an image is refused wherever a policy asks for a
    signature or a scan."""
    metadata = await projects.metadata_of(b.db, project.id)
    if not any(metadata.get(key) == "true" for key in _POLICY_KEYS) or scanner_pull:
        return
    try:
        manifest = json.loads(content)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or _is_accessory_manifest(manifest):
        return
    config = manifest.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    image = media_type in mediatypes.INDEXES or config_type in IMAGE_CONFIGS
    if not image:
        return  # not an image: nothing a signature or a scanner is asked to vouch for
    if not signing_client:
        if metadata.get("enable_content_trust_cosign") == "true":
            raise PolicyViolation("The image is not signed by cosign.")
        if metadata.get("enable_content_trust") == "true":
            raise PolicyViolation("The image is not signed by notation.")
    if metadata.get("prevent_vul") == "true":
        raise PolicyViolation(_unscanned_message(metadata))


def _is_accessory_manifest(manifest: dict[str, object]) -> bool:
    config = manifest.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    layers = manifest.get("layers")
    signing_layers = (
        isinstance(layers, list)
        and bool(layers)
        and all(
            isinstance(layer, dict) and layer.get("mediaType") == signature.SIMPLE_SIGNING
            for layer in layers
        )
    )
    return (
        manifest.get("subject") is not None
        or manifest.get("artifactType") in ACCESSORY_TYPES
        or config_type in ACCESSORY_TYPES
        or signing_layers
    )


def _policy_text(metadata: dict[str, str]) -> str:
    threshold = (metadata.get("severity") or "low").capitalize()
    return (
        "due to configured policy in 'Prevent images with vulnerability severity of "
        f'"{threshold}" or higher from running.\''
    )


def _unscanned_message(metadata: dict[str, str]) -> str:
    return (
        f"current image without vulnerability scanning cannot be pulled {_policy_text(metadata)} "
        "To continue with pull, scan it first or contact your project administrator."
    )


def _is_accessory(artifact: asyncpg.Record) -> bool:
    if artifact["subject_digest"] is not None:
        return True
    return artifact["artifact_type"] in ACCESSORY_TYPES or artifact["config_media_type"] in (
        ACCESSORY_TYPES
    )


async def _is_tag_mode_signature(b: Backends, artifact: asyncpg.Record) -> bool:
    """cosign's tag-mode signatures, attestations and SBOMs: tagged ``sha256-<hex>.sig``
    (``.att``, ``.sbom``), or plain image manifests of simple-signing layers."""
    if await artifacts.has_accessory_tag(b.db, artifact["id"]):
        return True
    raw = await artifacts.manifest_of(b.db, artifact["id"])
    try:
        layers = json.loads(raw or "{}").get("layers") or []
    except (ValueError, AttributeError):
        return False
    return bool(layers) and all(
        isinstance(layer, dict) and layer.get("mediaType") == signature.SIMPLE_SIGNING
        for layer in layers
    )


async def _images_of(b: Backends, artifact: asyncpg.Record) -> list[asyncpg.Record]:
    if artifact["media_type"] not in mediatypes.INDEXES:
        return [artifact] if scannable(artifact) else []
    children = (await artifacts.children_of(b.db, [artifact["id"]]))[artifact["id"]]
    found = []
    for child in children:
        row = await artifacts.get_detail_by_id(b.db, child["child_id"])
        if row is not None and scannable(row):
            found.append(row)
    return found


async def _check_vulnerabilities(
    b: Backends, project: ProjectRef, artifact: asyncpg.Record, metadata: dict[str, str]
) -> None:
    threshold = (metadata.get("severity") or "low").capitalize()
    policy = _policy_text(metadata)
    images = await _images_of(b, artifact)
    if not images:
        return  # not an image: nothing a scanner could vouch for
    registration = await scanner.scanner_of_project(b, project)
    reports = await scan_reports.of_artifacts(
        b.db,
        [i["id"] for i in images],
        VULNERABILITY,
        registration["id"] if registration else None,
    )
    allowed = await cve_allowlist.effective(b, project, metadata)
    worst: tuple[int, str, dict[str, object]] | None = None
    count = 0
    for image in images:
        row = reports.get(image["id"])
        if row is None or row["status"] != "Success":
            raise PolicyViolation(_unscanned_message(metadata))
        report = await scan_reports.report_of(b.db, row["id"]) or {}
        for vulnerability in report.get("vulnerabilities") or []:
            ids = {str(vulnerability.get("id"))}
            aliases = (vulnerability.get("vendor_attributes") or {}).get("aliases") or []
            ids.update(str(a) for a in aliases)
            if ids & allowed:
                continue
            rank = cvss.rank(str(vulnerability.get("severity") or "Unknown"))
            if rank < cvss.rank(threshold):
                continue
            count += 1
            if worst is None or rank > worst[0]:
                worst = (rank, str(vulnerability.get("id")), vulnerability)
    if worst is not None:
        _, _, vulnerability = worst
        raise PolicyViolation(
            f"current image with {count} vulnerabilities cannot be pulled {policy} "
            f"The worst is {vulnerability.get('id')} ({vulnerability.get('severity')}) in "
            f"{vulnerability.get('package')} {vulnerability.get('version')}"
            + (
                f", fixed in {vulnerability['fix_version']}."
                if vulnerability.get("fix_version")
                else "."
            )
        )
