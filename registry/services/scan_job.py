"""Running one scan (the ``SCAN`` job): hand the scanner a short-lived pull token for the one
repository, start the scan, wait for its report, store it, and say so by webhook. An SBOM
scan's document is also pushed as an accessory of the artifact (type ``harbor.sbom``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from registry.db import blobs, scan_reports, scanners
from registry.events import SCANNING_COMPLETED, SCANNING_FAILED, SCANNING_STOPPED
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.rbac import ProjectRef
from registry.scanners import client
from registry.scanners.engine import VULNERABILITY_REPORT
from registry.scanners.sbom import CYCLONEDX_JSON
from registry.services import manifest, notify, scan, scanner
from registry.services.context import Backends
from registry.services.project import find_by_id
from registry.storage import layout
from registry.token import jwt
from registry.token.scope import Scope

# Tokens the registry hands a scanner name no account; no user or robot name has a colon.
SCANNER_SUBJECT_PREFIX = "berth-scanner:"
PULL_TOKEN_SECONDS = 1800
# The longest a scan may take before Berth gives up on it.
SCAN_TIMEOUT_SECONDS = 3600
SBOM_ARTIFACT_TYPE = "application/vnd.goharbor.harbor.sbom.v1"

Log = Callable[..., Awaitable[None]]
ShouldStop = Callable[[], Awaitable[bool]]


class ScanFailed(Exception):
    """The scan ended in an error; the report says why."""


def is_scanner_subject(subject: str) -> bool:
    return subject.startswith(SCANNER_SUBJECT_PREFIX)


def registry_url(b: Backends, internal: bool) -> str:
    """Where the scanner reaches this registry: its own address for a scanner beside it
    (``use_internal_addr``), else the external URL when one is configured."""
    settings = b.settings
    if settings.external_url and not internal:
        return settings.external_url.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 — an address to connect to, not bind
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def pull_token(b: Backends, project: ProjectRef, repository: str, report_uuid: str) -> str:
    issued = jwt.issue(
        b.keys,
        issuer=b.settings.token.issuer,
        audience=b.settings.token.service,
        subject=SCANNER_SUBJECT_PREFIX + report_uuid,
        access=[Scope("repository", repository, frozenset({"pull"}))],
        ttl_seconds=PULL_TOKEN_SECONDS,
        projects={project.name: project.id},
    )
    return issued.token


def _request(
    b: Backends, parameters: dict[str, Any], project: ProjectRef, internal: bool
) -> dict[str, Any]:
    token = pull_token(b, project, parameters["repository"], parameters["report_uuid"])
    body: dict[str, Any] = {
        "registry": {"url": registry_url(b, internal), "authorization": f"Bearer {token}"},
        "artifact": {
            "repository": parameters["repository"],
            "digest": parameters["digest"],
            "mime_type": parameters["media_type"],
        },
    }
    if parameters["scan_type"] == scan.SBOM:
        body["enabled_capabilities"] = [
            {
                "type": "sbom",
                "produces_mime_types": [scan.SBOM_REPORT],
                "parameters": {"sbom_media_types": [parameters["sbom_media_type"]]},
            }
        ]
    return body


async def _wait_for_report(
    endpoint: client.Endpoint,
    scan_id: str,
    parameters: dict[str, Any],
    should_stop: ShouldStop,
) -> dict[str, Any] | None:
    """The report; None when the job was asked to stop first."""
    accept = VULNERABILITY_REPORT
    query = None
    if parameters["scan_type"] == scan.SBOM:
        accept = scan.SBOM_REPORT
        query = {"sbom_media_type": parameters["sbom_media_type"]}
    deadline = time.monotonic() + SCAN_TIMEOUT_SECONDS
    while True:
        if await should_stop():
            return None
        found = await client.fetch_report(endpoint, scan_id, accept, query)
        if not isinstance(found, client.Pending):
            return found
        if time.monotonic() > deadline:
            raise client.ScannerError(f"no report after {SCAN_TIMEOUT_SECONDS} s")
        await asyncio.sleep(min(max(found.refresh_after, 0.2), 5.0))


async def _push_sbom(
    b: Backends, project: ProjectRef, parameters: dict[str, Any], document: dict[str, Any]
) -> str:
    """Store the SBOM as an OCI artifact whose subject is the scanned image."""
    media_type = parameters["sbom_media_type"]
    content = json.dumps(document, separators=(",", ":")).encode()
    empty = b"{}"
    for data in (content, empty):
        blob_digest = Digest.of(data, "sha256")
        await b.storage.put_content(layout.blob_path(blob_digest), data)
        blob_id = await blobs.record_verified(b.db, str(blob_digest), len(data))
        await blobs.link_to_project(b.db, project.id, blob_id)
    title = "CycloneDX JSON SBOM" if media_type == CYCLONEDX_JSON else "SPDX JSON SBOM"
    body = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "artifactType": SBOM_ARTIFACT_TYPE,
        "config": {
            "mediaType": mediatypes.OCI_EMPTY,
            "digest": str(Digest.of(empty, "sha256")),
            "size": len(empty),
        },
        "layers": [
            {
                "mediaType": media_type,
                "digest": str(Digest.of(content, "sha256")),
                "size": len(content),
                "annotations": {"org.opencontainers.image.title": "sbom.json"},
            }
        ],
        "subject": {
            "mediaType": parameters["media_type"],
            "digest": parameters["digest"],
            "size": await _manifest_size(b, parameters),
        },
        "annotations": {
            "created-by": "Berth",
            "org.opencontainers.artifact.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "org.opencontainers.artifact.description": title,
        },
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    digest = str(Digest.of(raw, "sha256"))
    await manifest.put_manifest(
        b,
        project,
        parameters["repository"],
        digest,
        raw,
        mediatypes.OCI_MANIFEST,
        parameters["operator"],
    )
    return digest


async def _manifest_size(b: Backends, parameters: dict[str, Any]) -> int:
    stored = await manifest.get_manifest(b, parameters["repository"], parameters["digest"])
    return len(stored.content)


async def _announce(
    b: Backends, event_type: str, project: ProjectRef, parameters: dict[str, Any]
) -> None:
    overview = await scan.overview_of_report(b, parameters["report_id"])
    notify.scan_event(
        b,
        event_type,
        project,
        parameters["repository"],
        parameters["digest"],
        None,
        parameters["operator"],
        overview,
    )
    # The job's process may end right after: let the notification be recorded first.
    await notify.wait_pending(b)


async def run_scan(
    b: Backends, parameters: dict[str, Any], log: Log, should_stop: ShouldStop
) -> dict[str, Any]:
    report = await scan_reports.get(b.db, int(parameters["report_id"]))
    if report is None or report["uuid"] != parameters["report_uuid"]:
        await log("the report was replaced by a newer scan; nothing to do")
        return {"skipped": True}
    project = await find_by_id(b.db, int(parameters["project_id"]))
    registration = await scanners.get_by_id(b.db, report["registration_id"])
    if project is None or registration is None:
        await scan_reports.finish(b.db, report["id"], "Error")
        raise ScanFailed("the project or the scanner is gone")
    await scan_reports.set_status(b.db, report["id"], "Running")
    endpoint = scanner.endpoint_of(b, registration)
    name = f"{parameters['repository']}@{parameters['digest']}"
    try:
        scan_id = await client.submit(
            endpoint, _request(b, parameters, project, registration["use_internal_addr"])
        )
        await log(f"scanner {registration['name']} scans {name} as {scan_id}")
        found = await _wait_for_report(endpoint, scan_id, parameters, should_stop)
        if found is None:
            await scan_reports.finish(b.db, report["id"], "Stopped")
            await log("stopped")
            await _announce(b, SCANNING_STOPPED, project, parameters)
            return {"status": "Stopped"}
        scanner_info = found.get("scanner") or {}
        if parameters["scan_type"] == scan.SBOM:
            sbom_digest = await _push_sbom(b, project, parameters, found.get("sbom") or {})
            await scan_reports.finish(
                b.db,
                report["id"],
                "Success",
                report=found,
                scanner=scanner_info,
                sbom_digest=sbom_digest,
            )
            await log(f"SBOM stored as {parameters['repository']}@{sbom_digest}")
        else:
            summary = scan.summarize(found)
            await scan_reports.finish(
                b.db,
                report["id"],
                "Success",
                report=found,
                scanner=scanner_info,
                severity=str(found.get("severity") or "None"),
                summary=summary,
            )
            await log(f"{summary['total']} vulnerabilities, severity {found.get('severity')}")
    except client.ScannerError as exc:
        await scan_reports.finish(b.db, report["id"], "Error")
        await log(str(exc), "ERROR")
        await _announce(b, SCANNING_FAILED, project, parameters)
        raise ScanFailed(str(exc)) from None
    await _announce(b, SCANNING_COMPLETED, project, parameters)
    return {"status": "Success"}
