"""A scan: an image's inventory matched against the vulnerability database, as Harbor's
vulnerability report (``application/vnd.security.vulnerability.report; version=1.1``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.scanners import cvss
from registry.scanners.inventory import APK, DEB, NPM, PYPI, Inventory, Package
from registry.scanners.osv import Database, Finding, Query, match

VULNERABILITY_REPORT = "application/vnd.security.vulnerability.report; version=1.1"


@dataclass(frozen=True, slots=True)
class ScannerInfo:
    name: str
    vendor: str
    version: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "vendor": self.vendor, "version": self.version}


def query_for(package: Package, os_ecosystem: str) -> Query | None:
    """How the vulnerability database names a package: distribution packages by their source
    package (Debian's ``Source:``, Alpine's origin) in the release's ecosystem."""
    if package.type in (DEB, APK):
        if not os_ecosystem:
            return None
        return Query(
            os_ecosystem,
            package.source_name or package.name,
            package.source_version or package.version,
        )
    if package.type == PYPI:
        return Query("PyPI", package.name, package.version)
    if package.type == NPM:
        return Query("npm", package.name, package.version)
    return None


def _vulnerability(package: Package, finding: Finding) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": finding.id,
        "package": package.name,
        "version": package.version,
        "fix_version": finding.fix_version,
        "severity": finding.severity,
        "description": finding.description,
        "links": finding.links or [f"https://osv.dev/vulnerability/{finding.id}"],
        "cwe_ids": finding.cwe_ids,
        "vendor_attributes": {"aliases": finding.aliases, "package_type": package.type},
    }
    if finding.cvss_vector:
        key = (
            "v2" if finding.cvss_vector.startswith("AV:") or "/Au:" in finding.cvss_vector else "v3"
        )
        body["preferred_cvss"] = {
            f"score_{key}": finding.cvss_score,
            f"vector_{key}": finding.cvss_vector,
        }
    return body


def vulnerabilities(db: Database, inventory: Inventory) -> list[dict[str, Any]]:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    ecosystem = inventory.os.ecosystem
    for package in inventory.packages:
        query = query_for(package, ecosystem)
        if query is None:
            continue
        for finding in match(db, query):
            key = (finding.id, package.name, package.version)
            found.setdefault(key, _vulnerability(package, finding))
    return sorted(
        found.values(),
        key=lambda v: (-cvss.rank(v["severity"]), v["id"], v["package"]),
    )


def report(
    db: Database, inventory: Inventory, scanner: ScannerInfo, artifact: dict[str, Any]
) -> dict[str, Any]:
    vulns = vulnerabilities(db, inventory)
    return {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "artifact": artifact,
        "scanner": scanner.as_json(),
        "severity": cvss.worst([v["severity"] for v in vulns]) if vulns else "None",
        "vulnerabilities": vulns,
    }
