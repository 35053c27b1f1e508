"""The scanner adapter's HTTP face: Harbor's Pluggable Scanner API.

``GET /api/v1/metadata`` says what it scans and produces; ``POST /api/v1/scan`` starts a scan
(202 with its id); ``GET /api/v1/scan/{id}/report`` answers 302 with ``Refresh-After`` while the
scan runs, then the report the ``Accept`` header asks for (vulnerabilities, or an SBOM with
``sbom_media_type``). ``POST /api/v1/osv`` imports OSV records (a zip or one JSON record).
With an API key set, every call must carry ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import tempfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.scanners import sbom
from registry.scanners.adapter.scans import BUILTIN, ScanRequest, Scans
from registry.scanners.engine import VULNERABILITY_REPORT, ScannerInfo
from registry.scanners.osv import Database

SCAN_REQUEST = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
SCAN_RESPONSE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
METADATA = "application/vnd.scanner.adapter.metadata+json; version=1.0"
ERROR = "application/vnd.scanner.adapter.error+json; version=1.0"
SBOM_REPORT = "application/vnd.security.sbom.report+json; version=1.0"
CONSUMES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
REFRESH_AFTER_SECONDS = 1


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"message": message}}, status_code=status, media_type=ERROR)


def create_scanner_app(
    db_path: Path, info: ScannerInfo, api_key: str = "", engine: str = BUILTIN
) -> Starlette:
    db = Database(db_path)
    scans: Scans | None = None

    def authorized(request: Request) -> bool:
        if not api_key:
            return True
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode())

    async def metadata(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "invalid credentials")
        body = {
            "scanner": info.as_json(),
            "capabilities": [
                {
                    "type": "vulnerability",
                    "consumes_mime_types": CONSUMES,
                    "produces_mime_types": [VULNERABILITY_REPORT],
                },
                {
                    "type": "sbom",
                    "consumes_mime_types": CONSUMES,
                    "produces_mime_types": [SBOM_REPORT],
                    "additional_attributes": {"sbom_media_types": list(sbom.MEDIA_TYPES)},
                },
            ],
            "properties": {
                "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                "harbor.scanner-adapter/vulnerability-database-updated-at": db.updated_at() or "",
                "org.berth.osv/records": str(db.count()),
                "org.berth.scanner/engine": engine,
            },
        }
        return JSONResponse(body, media_type=METADATA)

    async def scan(request: Request) -> Response:
        nonlocal scans
        if not authorized(request):
            return _error(401, "invalid credentials")
        try:
            body = json.loads(await request.body())
            registry = body["registry"]
            artifact = body["artifact"]
            sbom_types: list[str] = []
            for capability in body.get("enabled_capabilities") or []:
                if capability.get("type") == "sbom":
                    params = capability.get("parameters") or {}
                    sbom_types.extend(params.get("sbom_media_types") or [sbom.SPDX_JSON])
            scan_request = ScanRequest(
                registry_url=str(registry["url"]),
                authorization=str(registry.get("authorization") or ""),
                repository=str(artifact["repository"]),
                digest=str(artifact["digest"]),
                tag=str(artifact.get("tag") or ""),
                mime_type=str(artifact.get("mime_type") or ""),
                sbom_media_types=[t for t in sbom_types if t in sbom.MEDIA_TYPES],
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, "invalid scan request")
        if scans is None:
            scans = Scans(db, info, engine)
        started = scans.start(scan_request)
        return JSONResponse({"id": started.id}, status_code=202, media_type=SCAN_RESPONSE)

    async def scan_report(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "invalid credentials")
        found = scans.get(request.path_params["scan_id"]) if scans is not None else None
        if found is None:
            return _error(404, "scan not found")
        if found.status == "Running":
            return Response(status_code=302, headers={"Refresh-After": str(REFRESH_AFTER_SECONDS)})
        if found.status == "Error":
            return _error(500, found.error)
        accept = request.headers.get("accept", VULNERABILITY_REPORT)
        if "sbom" in accept:
            media_type = request.query_params.get("sbom_media_type", sbom.SPDX_JSON)
            document = found.sboms.get(media_type)
            if document is None:
                return _error(404, f"no {media_type} SBOM was asked for in this scan")
            assert found.vulnerability_report is not None
            body: dict[str, Any] = {
                "generated_at": found.vulnerability_report["generated_at"],
                "artifact": found.vulnerability_report["artifact"],
                "scanner": info.as_json(),
                "media_type": media_type,
                "sbom": document,
            }
            return JSONResponse(body, media_type=SBOM_REPORT)
        return JSONResponse(found.vulnerability_report, media_type=VULNERABILITY_REPORT)

    async def import_osv(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "invalid credentials")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload"
            with path.open("wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
            result = await asyncio.to_thread(db.import_path, path)
        return JSONResponse(result.as_json())

    return Starlette(
        routes=[
            Route("/api/v1/metadata", metadata, methods=["GET"]),
            Route("/api/v1/scan", scan, methods=["POST"]),
            Route("/api/v1/scan/{scan_id}/report", scan_report, methods=["GET"]),
            Route("/api/v1/osv", import_osv, methods=["POST"]),
        ]
    )
