"""Software bills of materials from an image's inventory: SPDX 2.3 and CycloneDX 1.5 JSON."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from registry.scanners.inventory import Inventory, Package

SPDX_JSON = "application/spdx+json"
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
MEDIA_TYPES = (SPDX_JSON, CYCLONEDX_JSON)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spdx_id(index: int, package: Package) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{package.type}-{package.name}")
    return f"SPDXRef-Package-{safe}-{index}"


def spdx(inventory: Inventory, name: str, tool: str) -> dict[str, Any]:
    root = "SPDXRef-Image"
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": root,
            "name": name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "primaryPackagePurpose": "CONTAINER",
        }
    ]
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": root,
        }
    ]
    for index, package in enumerate(inventory.packages):
        ident = _spdx_id(index, package)
        entry: dict[str, Any] = {
            "SPDXID": ident,
            "name": package.name,
            "versionInfo": package.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": package.purl(inventory.os.id, inventory.os.version_id),
                }
            ],
        }
        if package.source_name and package.source_name != package.name:
            entry["sourceInfo"] = f"built from {package.source_name} {package.source_version}"
        packages.append(entry)
        relationships.append(
            {"spdxElementId": root, "relationshipType": "CONTAINS", "relatedSpdxElement": ident}
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": f"https://berth.invalid/spdx/{uuid.uuid4()}",
        "creationInfo": {"created": _now(), "creators": [f"Tool: {tool}"]},
        "packages": packages,
        "relationships": relationships,
    }


def cyclonedx(inventory: Inventory, name: str, tool: str) -> dict[str, Any]:
    components = []
    for package in inventory.packages:
        purl = package.purl(inventory.os.id, inventory.os.version_id)
        component: dict[str, Any] = {
            "bom-ref": purl,
            "type": "library",
            "name": package.name,
            "version": package.version,
            "purl": purl,
        }
        if package.license:
            component["licenses"] = [{"license": {"name": package.license}}]
        components.append(component)
    if inventory.os.id:
        components.append(
            {
                "bom-ref": f"os:{inventory.os.id}@{inventory.os.version_id}",
                "type": "operating-system",
                "name": inventory.os.id,
                "version": inventory.os.version_id,
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": _now(),
            "tools": {"components": [{"type": "application", "name": tool}]},
            "component": {"bom-ref": name, "type": "container", "name": name},
        },
        "components": components,
    }


def generate(inventory: Inventory, media_type: str, name: str, tool: str) -> dict[str, Any]:
    if media_type == CYCLONEDX_JSON:
        return cyclonedx(inventory, name, tool)
    return spdx(inventory, name, tool)
