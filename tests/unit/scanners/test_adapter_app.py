from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import httpx

from registry.scanners.adapter.app import METADATA, create_scanner_app
from registry.scanners.engine import VULNERABILITY_REPORT, ScannerInfo
from tests.fixtures.images import OSV_FIXTURES

INFO = ScannerInfo("Berth", "Berth", "1.0")
KEY = {"Authorization": "Bearer s3cret"}


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(OSV_FIXTURES.glob("*.json")):
            archive.write(path, path.name)
    return out.getvalue()


def _client(tmp_path: Path, api_key: str = "") -> httpx.AsyncClient:
    app = create_scanner_app(tmp_path / "osv.sqlite", INFO, api_key=api_key)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://adapter")


async def test_metadata_import_and_errors(tmp_path: Path) -> None:
    async with _client(tmp_path, "s3cret") as client:
        assert (await client.get("/api/v1/metadata")).status_code == 401
        wrong = await client.get("/api/v1/metadata", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        imported = await client.post("/api/v1/osv", content=_zip(), headers=KEY)
        assert imported.status_code == 200
        assert imported.json()["added"] == 10
        again = (await client.post("/api/v1/osv", content=_zip(), headers=KEY)).json()
        assert (again["added"], again["unchanged"]) == (0, 10)
        response = await client.get("/api/v1/metadata", headers=KEY)
        assert response.headers["content-type"].startswith(METADATA)
        body = response.json()
        assert body["scanner"] == {"name": "Berth", "vendor": "Berth", "version": "1.0"}
        produced = {c["type"]: c["produces_mime_types"] for c in body["capabilities"]}
        assert produced["vulnerability"] == [VULNERABILITY_REPORT]
        assert body["properties"]["org.berth.osv/records"] == "10"
        assert body["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"]
        bad = await client.post("/api/v1/scan", content=b'{"registry": {}}', headers=KEY)
        assert bad.status_code == 400
        assert bad.json() == {"error": {"message": "invalid scan request"}}
        assert (await client.get("/api/v1/scan/nope/report", headers=KEY)).status_code == 404


async def test_a_scan_of_an_unreachable_registry_reports_an_error(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        request = {
            "registry": {"url": "http://127.0.0.1:9", "authorization": "Bearer x"},
            "artifact": {"repository": "library/a", "digest": "sha256:" + "0" * 64},
        }
        started = await client.post("/api/v1/scan", json=request)
        assert started.status_code == 202
        scan_id = started.json()["id"]
        for _ in range(200):
            report = await client.get(f"/api/v1/scan/{scan_id}/report")
            if report.status_code != 302:
                break
            assert report.headers["Refresh-After"] == "1"
            await asyncio.sleep(0.05)
        assert report.status_code == 500
        assert "message" in report.json()["error"]
