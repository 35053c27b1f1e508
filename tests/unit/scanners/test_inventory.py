from __future__ import annotations

from pathlib import Path

from registry.scanners.engine import ScannerInfo, report
from registry.scanners.inventory import Inventory
from registry.scanners.osv import Database
from registry.scanners.sbom import cyclonedx, spdx
from tests.fixtures.images import (
    ALPINE_EXPECTED,
    DEBIAN_EXPECTED,
    OSV_FIXTURES,
    alpine_image,
    builtin_inventory,
    debian_image,
)


def _names(inventory: Inventory) -> set[tuple[str, str, str]]:
    return {(p.type, p.name, p.version) for p in inventory.packages}


def test_debian_inventory_applies_whiteouts() -> None:
    inventory = builtin_inventory(debian_image())
    assert (inventory.os.id, inventory.os.version_id, inventory.os.ecosystem) == (
        "debian",
        "12",
        "Debian:12",
    )
    assert _names(inventory) == {
        ("deb", "libssl3", "3.0.9-1"),
        ("deb", "zlib1g", "1:1.2.13.dfsg-1"),
        ("deb", "bash", "5.2.15-2+b2"),
        ("pypi", "Requests", "2.28.1"),
        ("npm", "lodash", "4.17.20"),
    }
    libssl = next(p for p in inventory.packages if p.name == "libssl3")
    assert (libssl.source_name, libssl.source_version, libssl.arch) == (
        "openssl",
        "3.0.9-1",
        "amd64",
    )


def test_alpine_inventory_with_opaque_directory() -> None:
    inventory = builtin_inventory(alpine_image())
    assert inventory.os.ecosystem == "Alpine:v3.19"
    assert _names(inventory) == {
        ("apk", "busybox-binsh", "1.36.1-r15"),
        ("apk", "musl", "1.2.4_git20230717-r5"),
        ("npm", "minimist", "1.2.8"),
    }
    busybox = next(p for p in inventory.packages if p.name == "busybox-binsh")
    assert busybox.source_name == "busybox"


def test_reports_exact_vulnerabilities(tmp_path: Path) -> None:
    db = Database(tmp_path / "osv.sqlite")
    db.import_path(OSV_FIXTURES)
    info = ScannerInfo("Berth", "Berth", "1.0")
    for image, expected, worst in (
        (debian_image(), DEBIAN_EXPECTED, "Critical"),
        (alpine_image(), ALPINE_EXPECTED, "High"),
    ):
        body = report(db, builtin_inventory(image), info, {"digest": image.digest})
        found = {
            (v["id"], v["package"], v["version"], v["severity"], v["fix_version"])
            for v in body["vulnerabilities"]
        }
        assert found == expected
        assert body["severity"] == worst
        assert body["scanner"] == {"name": "Berth", "vendor": "Berth", "version": "1.0"}


def test_sboms_list_every_package() -> None:
    inventory = builtin_inventory(debian_image())
    document = spdx(inventory, "library/debian@sha256:x", "Berth-1.0")
    assert document["spdxVersion"] == "SPDX-2.3"
    purls = {
        ref["referenceLocator"] for p in document["packages"] for ref in p.get("externalRefs", [])
    }
    assert "pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12" in purls
    assert "pkg:pypi/requests@2.28.1" in purls
    assert len(document["packages"]) == 1 + len(inventory.packages)
    bom = cyclonedx(inventory, "library/debian@sha256:x", "Berth-1.0")
    assert bom["specVersion"] == "1.5"
    assert {c["name"] for c in bom["components"] if c["type"] == "library"} == {
        "libssl3",
        "zlib1g",
        "bash",
        "Requests",
        "lodash",
    }
