"""Scanning artifacts with the project's scanner: starting and stopping scans, the reports and
overviews the API shows, scan on push and scan-all.

A scan is a report row (per artifact, scanner and scan type) and a ``SCAN`` job that runs it
(:mod:`registry.services.scan_job`). Starting a scan again replaces the report; a job that
finds its report replaced gives up quietly.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import artifacts, scan_reports
from registry.db import jobs as job_records
from registry.oci import mediatypes
from registry.rbac import ProjectRef
from registry.scanners.engine import VULNERABILITY_REPORT
from registry.scanners.sbom import MEDIA_TYPES as SBOM_MEDIA_TYPES
from registry.scanners.sbom import SPDX_JSON
from registry.services import jobs, project_metadata, read_cache, scanner
from registry.services.artifact import kind_for
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, ScanUnavailable
from registry.services.project import find_by_id

KIND = "SCAN"
ALL_KIND = "SCAN_ALL"
VULNERABILITY = "vulnerability"
SBOM = "sbom"
SBOM_REPORT = "application/vnd.security.sbom.report+json; version=1.0"
SCAN_ALL_TRIGGER = "SCAN_ALL"
SCANNABLE = (mediatypes.OCI_MANIFEST, mediatypes.DOCKER_MANIFEST)
_SEVERITY_ORDER = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


def scannable(row: asyncpg.Record) -> bool:
    """Images (not indexes, not signatures or other accessories) can be scanned."""
    return (
        row["media_type"] in SCANNABLE
        and kind_for(row["media_type"], row["config_media_type"]) == "IMAGE"
        and row["subject_digest"] is None
    )


async def start_scan(
    b: Backends,
    actor: Principal | None,
    project: ProjectRef,
    repository: str,
    artifact: asyncpg.Record,
    *,
    scan_type: str = VULNERABILITY,
    sbom_media_type: str = SPDX_JSON,
    trigger: str = "MANUAL",
) -> list[str]:
    """Start scanning the artifact (each image of an index); the report ids."""
    if scan_type not in (VULNERABILITY, SBOM):
        raise InvalidRequest(f"scan_type must be {VULNERABILITY} or {SBOM}")
    if scan_type == SBOM and sbom_media_type not in SBOM_MEDIA_TYPES:
        raise InvalidRequest(f"sbom_media_type must be one of {', '.join(SBOM_MEDIA_TYPES)}")
    registration = await scanner.scanner_of_project(b, project)
    if registration is None:
        raise ScanUnavailable("no scanner is configured for this project")
    targets = [artifact]
    if artifact["media_type"] in mediatypes.INDEXES:
        children = (await artifacts.children_of(b.db, [artifact["id"]]))[artifact["id"]]
        targets = [
            row
            for child in children
            if (row := await artifacts.get_detail_by_id(b.db, child["child_id"])) is not None
        ]
    targets = [t for t in targets if scannable(t)]
    if not targets:
        raise ScanUnavailable("this artifact is not an image that can be scanned")
    started = []
    for target in targets:
        started.append(
            await _start_one(
                b,
                actor,
                project,
                repository,
                target,
                registration,
                scan_type,
                sbom_media_type,
                trigger,
            )
        )
    return started


async def _start_one(
    b: Backends,
    actor: Principal | None,
    project: ProjectRef,
    repository: str,
    artifact: asyncpg.Record,
    registration: asyncpg.Record,
    scan_type: str,
    sbom_media_type: str,
    trigger: str,
) -> str:
    mime_type = VULNERABILITY_REPORT if scan_type == VULNERABILITY else SBOM_REPORT
    report = await scan_reports.begin(
        b.db,
        str(uuid_module.uuid4()),
        artifact["id"],
        artifact["digest"],
        registration["id"],
        scan_type,
        mime_type,
        trigger,
    )
    operator = actor.name if actor is not None else "auto-scan"
    parameters = {
        "report_id": report["id"],
        "report_uuid": report["uuid"],
        "project_id": project.id,
        "repository": repository,
        "digest": artifact["digest"],
        "media_type": artifact["media_type"],
        "scan_type": scan_type,
        "sbom_media_type": sbom_media_type,
        "operator": operator,
        # A scan that failed is started again by whoever wants it; no automatic retries.
        "max_attempts": 1,
    }
    job_trigger = (
        "SCHEDULE" if trigger == SCAN_ALL_TRIGGER else ("EVENT" if actor is None else "MANUAL")
    )
    job_id = await jobs.submit(b, KIND, parameters, job_trigger)
    await scan_reports.set_job(b.db, report["id"], job_id)
    if actor is not None:
        await b.audit.record(
            AuditEvent(
                "scan", "artifact", f"{repository}@{artifact['digest']}", actor.name, project.id
            )
        )
    uuid: str = report["uuid"]
    return uuid


async def stop_scan(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    repository: str,
    artifact: asyncpg.Record,
    scan_type: str = VULNERABILITY,
) -> None:
    """Ask the running scan of the artifact to stop."""
    registration = await scanner.scanner_of_project(b, project)
    found = await scan_reports.of_artifacts(
        b.db, [artifact["id"]], scan_type, registration["id"] if registration else None
    )
    report = found.get(artifact["id"])
    if report is None or report["status"] not in ("Pending", "Running") or not report["job_id"]:
        raise InvalidRequest("no scan of this artifact is running")
    await jobs.stop(b, report["job_id"])
    job = await job_records.get(b.db, report["job_id"])
    if job is not None and job["status"] == "Stopped":
        # It never started: nothing else will close the report.
        await scan_reports.finish(b.db, report["id"], "Stopped")
    await b.audit.record(
        AuditEvent(
            "stop_scan", "artifact", f"{repository}@{artifact['digest']}", actor.name, project.id
        )
    )


async def scan_log(b: Backends, artifact: asyncpg.Record, report_uuid: str) -> str:
    report = await scan_reports.by_uuid(b.db, report_uuid)
    if report is None or report["artifact_id"] != artifact["id"] or not report["job_id"]:
        raise ScanUnavailable(f"no scan report {report_uuid} for this artifact")
    return await jobs.job_log(b, report["job_id"])


# ---------------------------------------------------------------------------- overviews


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, int((end - start).total_seconds()))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Harbor's ``summary``: totals per severity and how many have a fix."""
    counts: dict[str, int] = {}
    fixable = 0
    for vulnerability in report.get("vulnerabilities") or []:
        severity = str(vulnerability.get("severity") or "Unknown")
        counts[severity] = counts.get(severity, 0) + 1
        if vulnerability.get("fix_version"):
            fixable += 1
    ordered = {s: counts[s] for s in _SEVERITY_ORDER if s in counts}
    return {"total": sum(counts.values()), "fixable": fixable, "summary": ordered}


def _overview(row: asyncpg.Record) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": row["uuid"],
        "scan_status": row["status"],
        "severity": row["severity"] or "",
        "duration": _seconds(row["start_time"], row["end_time"]),
        # Text, not datetimes: the overview also goes into webhook payloads as JSON.
        "start_time": _iso(row["start_time"]),
        "end_time": _iso(row["end_time"]),
        "complete_percent": 100 if row["status"] == "Success" else 0,
        "scanner": row["scanner"] or {},
    }
    if row["scan_type"] == VULNERABILITY:
        if row["summary"] is not None:
            body["summary"] = row["summary"]
    else:
        body["sbom_digest"] = row["sbom_digest"] or ""
    return body


async def overviews(
    b: Backends, project: ProjectRef, artifact_ids: list[int], scan_type: str = VULNERABILITY
) -> dict[int, dict[str, Any]]:
    """Each artifact's scan overview from the project's scanner: ``{mime: overview}`` for
    vulnerabilities (Harbor's ``scan_overview``), the overview itself for SBOMs."""
    registration = await scanner.scanner_of_project(b, project)
    found = await scan_reports.of_artifacts(
        b.db, artifact_ids, scan_type, registration["id"] if registration else None
    )
    if scan_type == SBOM:
        return {aid: _overview(row) for aid, row in found.items()}
    return {aid: {row["mime_type"]: _overview(row)} for aid, row in found.items()}


async def overview_of_report(b: Backends, report_id: int) -> dict[str, Any]:
    row = await scan_reports.get(b.db, report_id)
    if row is None:
        return {}
    if row["scan_type"] == SBOM:
        return {"sbom_overview": _overview(row)}
    return {row["mime_type"]: _overview(row)}


async def vulnerabilities(
    b: Backends, project: ProjectRef, artifact: asyncpg.Record
) -> dict[str, Any]:
    """The ``additions/vulnerabilities`` of an artifact: ``{mime: report}``, empty when it was
    never scanned."""
    registration = await scanner.scanner_of_project(b, project)
    found = await scan_reports.of_artifacts(
        b.db, [artifact["id"]], VULNERABILITY, registration["id"] if registration else None
    )
    row = found.get(artifact["id"])
    if row is None or row["status"] != "Success":
        return {}
    report = await scan_reports.report_of(b.db, row["id"])
    return {row["mime_type"]: report or {}}


async def sbom_document(b: Backends, artifact: asyncpg.Record) -> dict[str, Any] | None:
    """The latest SBOM generated for the artifact."""
    found = await scan_reports.of_artifacts(b.db, [artifact["id"]], SBOM, None)
    row = found.get(artifact["id"])
    if row is None or row["status"] != "Success":
        return None
    report = await scan_reports.report_of(b.db, row["id"])
    return (report or {}).get("sbom")


# ---------------------------------------------------------------------------- triggers


async def scan_on_push(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: str,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    """After a push: scan it when the project has ``auto_scan``. Never fails the push."""
    metadata = await project_metadata.cached(b, project, facts)
    if metadata.get("auto_scan") != "true":
        return
    row = await artifacts.get_by_digest(b.db, repository, digest)
    if row is None:
        return
    detail = await artifacts.get_detail_by_id(b.db, row["id"])
    if detail is None or not (scannable(detail) or detail["media_type"] in mediatypes.INDEXES):
        return
    if await artifacts.has_accessory_tag(b.db, row["id"]):
        return
    try:
        await start_scan(b, None, project, repository, detail, trigger="EVENT")
    except ScanUnavailable:
        return


def schedule_scan_on_push(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: str,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    b.background.spawn(scan_on_push(b, project, repository, digest, facts), "a scan on push")


async def scan_all(
    b: Backends, log: Any = None, should_stop: Callable[[], Awaitable[bool]] | None = None
) -> dict[str, Any]:
    """Start a scan of every image in the registry (the SCAN_ALL job). A stop request is
    looked for after each start, so a scan started while the stop was being carried out is
    stopped too, not left to run after the scan-all said it had stopped."""
    started = skipped = 0
    for row in await scan_reports.image_artifacts(b.db):
        project = await find_by_id(b.db, row["project_id"])
        detail = await artifacts.get_detail_by_id(b.db, row["id"])
        if project is None or detail is None:
            continue
        try:
            await start_scan(b, None, project, row["repository"], detail, trigger=SCAN_ALL_TRIGGER)
            started += 1
        except ScanUnavailable:
            skipped += 1
        if should_stop is not None and await should_stop():
            stopped = await _stop_unfinished(b)
            if log is not None:
                await log(f"stopped after starting {started} scans ({stopped} not finished)")
            return {"total": started, "skipped": skipped, "stopped": True}
    if log is not None:
        await log(f"started {started} scans, skipped {skipped} artifacts without a scanner")
    return {"total": started, "skipped": skipped}


async def scan_all_now(b: Backends, actor: Principal) -> int:
    job_id = await jobs.submit(b, ALL_KIND, {}, "MANUAL")
    await b.audit.record(AuditEvent("create", "scan_all", "system", actor.name))
    return job_id


async def stop_scan_all(b: Backends, actor: Principal) -> int:
    """Stop a running scan-all: its SCAN_ALL job and every scan it started that has not
    finished (Harbor's ``POST /system/scanAll/stop``). How many scans were asked to stop;
    InvalidRequest when no scan-all is running."""
    latest, _ = await job_records.list_kind(b.db, [ALL_KIND], 1, 0)
    running_job = bool(latest) and latest[0]["status"] not in job_records.FINISHED
    if running_job:
        await jobs.stop(b, latest[0]["id"])
    if not running_job and not await scan_reports.unfinished(b.db, SCAN_ALL_TRIGGER):
        raise InvalidRequest("no scan all is running")
    stopped = await _stop_unfinished(b)
    await b.audit.record(AuditEvent("stop", "scan_all", "system", actor.name))
    return stopped


async def _stop_unfinished(b: Backends) -> int:
    """Ask every scan scan-all started that has not finished to stop; how many there were."""
    pending = await scan_reports.unfinished(b.db, SCAN_ALL_TRIGGER)
    for report in pending:
        if report["job_id"]:
            await jobs.stop(b, report["job_id"])
            job = await job_records.get(b.db, report["job_id"])
            if job is None or job["status"] != "Stopped":
                continue  # a running scan closes its own report when it sees the stop
        # Never started: nothing else will close the report.
        await scan_reports.finish(b.db, report["id"], "Stopped")
    return len(pending)


async def scan_all_metrics(b: Backends, scheduled: bool) -> dict[str, Any]:
    """Harbor's ``/scans/all/metrics`` (or ``/scans/schedule/metrics``): the scans scan-all
    started, by status."""
    counts = await scan_reports.metrics(b.db, SCAN_ALL_TRIGGER)
    ongoing = counts.get("Pending", 0) + counts.get("Running", 0)
    total = sum(counts.values())
    latest, _ = await job_records.list_kind(b.db, [ALL_KIND], 1, 0)
    # Still starting scans counts as going on, even before the first of them is recorded.
    starting = bool(latest) and latest[0]["status"] not in job_records.FINISHED
    trigger = "Schedule" if latest and latest[0]["trigger"] == "SCHEDULE" else "Manual"
    body: dict[str, Any] = {
        "total": total,
        "completed": total - ongoing,
        "metrics": counts,
        "ongoing": ongoing > 0 or starting,
        "trigger": trigger if not scheduled else "Schedule",
    }
    return body
