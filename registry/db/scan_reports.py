"""Scan reports: one per artifact, scanner and scan type (vulnerability or SBOM)."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.artifacts import ACCESSORY_TAG_PATTERN
from registry.db.pool import Executor

_COLUMNS = (
    "s.id, s.uuid, s.artifact_id, s.digest, s.registration_id, s.scan_type, s.mime_type, "
    "s.status, s.job_id, s.scanner, s.severity, s.summary, s.sbom_digest, s.trigger, "
    "s.start_time, s.end_time"
)


async def begin(
    db: Executor,
    uuid: str,
    artifact_id: int,
    digest: str,
    registration_id: int,
    scan_type: str,
    mime_type: str,
    trigger: str,
) -> asyncpg.Record:
    """A new report (Pending), replacing the artifact's previous one from that scanner."""
    row = await db.fetchrow(
        """
        INSERT INTO scan_reports (uuid, artifact_id, digest, registration_id, scan_type,
                                  mime_type, trigger)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (artifact_id, registration_id, scan_type) DO UPDATE
            SET uuid = EXCLUDED.uuid, status = 'Pending', report = NULL, severity = NULL,
                summary = NULL, job_id = NULL, trigger = EXCLUDED.trigger,
                start_time = now(), end_time = NULL, mime_type = EXCLUDED.mime_type
        RETURNING id, uuid
        """,
        uuid,
        artifact_id,
        digest,
        registration_id,
        scan_type,
        mime_type,
        trigger,
    )
    assert row is not None
    return row


async def set_job(db: Executor, report_id: int, job_id: int) -> None:
    await db.execute("UPDATE scan_reports SET job_id = $2 WHERE id = $1", report_id, job_id)


async def set_status(db: Executor, report_id: int, status: str) -> None:
    await db.execute("UPDATE scan_reports SET status = $2 WHERE id = $1", report_id, status)


async def finish(
    db: Executor,
    report_id: int,
    status: str,
    *,
    report: dict[str, Any] | None = None,
    scanner: dict[str, Any] | None = None,
    severity: str | None = None,
    summary: dict[str, Any] | None = None,
    sbom_digest: str | None = None,
) -> None:
    await db.execute(
        """
        UPDATE scan_reports SET status = $2, report = COALESCE($3, report),
            scanner = COALESCE($4, scanner), severity = COALESCE($5, severity),
            summary = COALESCE($6, summary), sbom_digest = COALESCE($7, sbom_digest),
            end_time = now()
        WHERE id = $1
        """,
        report_id,
        status,
        report,
        scanner,
        severity,
        summary,
        sbom_digest,
    )


async def get(db: Executor, report_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS}, s.report FROM scan_reports s WHERE s.id = $1",  # noqa: S608
        report_id,
    )


async def by_uuid(db: Executor, uuid: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM scan_reports s WHERE s.uuid = $1",  # noqa: S608 — constant
        uuid,
    )


async def of_artifacts(
    db: Executor, artifact_ids: list[int], scan_type: str, registration_id: int | None
) -> dict[int, asyncpg.Record]:
    """Each artifact's latest report of the type (from that scanner, when given)."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT ON (s.artifact_id) {_COLUMNS} FROM scan_reports s
        WHERE s.artifact_id = ANY($1::bigint[]) AND s.scan_type = $2
          AND ($3::bigint IS NULL OR s.registration_id = $3)
        ORDER BY s.artifact_id, s.start_time DESC
        """,  # noqa: S608 — constant columns
        artifact_ids,
        scan_type,
        registration_id,
    )
    return {r["artifact_id"]: r for r in rows}


async def report_of(db: Executor, report_id: int) -> dict[str, Any] | None:
    value: dict[str, Any] | None = await db.fetchval(
        "SELECT report FROM scan_reports WHERE id = $1", report_id
    )
    return value


async def metrics(db: Executor, trigger: str | None) -> dict[str, int]:
    rows = await db.fetch(
        """
        SELECT status, count(*) AS n FROM scan_reports
        WHERE scan_type = 'vulnerability' AND ($1::text IS NULL OR trigger = $1)
        GROUP BY status
        """,
        trigger,
    )
    return {r["status"]: int(r["n"]) for r in rows}


async def unfinished(db: Executor, trigger: str) -> list[asyncpg.Record]:
    """Reports still Pending or Running that ``trigger`` started (a scan-all's scans)."""
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM scan_reports s "  # noqa: S608 — constant columns
        "WHERE s.trigger = $1 AND s.status IN ('Pending', 'Running') ORDER BY s.id",
        trigger,
    )


async def image_artifacts(db: Executor) -> list[asyncpg.Record]:
    """Every image in the registry that is not an index nor an accessory (what scan-all
    scans)."""
    return await db.fetch(
        """
        SELECT a.id, a.digest, a.media_type, r.name AS repository, r.project_id
        FROM artifacts a JOIN repositories r ON r.id = a.repository_id
        WHERE a.artifact_kind = 'IMAGE' AND a.subject_digest IS NULL
          AND a.media_type IN ('application/vnd.oci.image.manifest.v1+json',
                               'application/vnd.docker.distribution.manifest.v2+json')
          AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.artifact_id = a.id
                          AND t.name ~ $1)
        ORDER BY a.id
        """,
        ACCESSORY_TAG_PATTERN,
    )
