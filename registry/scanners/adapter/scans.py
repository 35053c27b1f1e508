"""The adapter's scan requests: each runs in a worker thread, its outcome kept in memory until
the registry fetched it (bounded: the oldest finished scans are forgotten first)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.scanners import sbom, trivy
from registry.scanners.engine import ScannerInfo, report
from registry.scanners.inventory import Filesystem, Inventory, inventory_of
from registry.scanners.osv import Database
from registry.scanners.pull import PullError, RegistryReader
from registry.scanners.trivy import TrivyError

log = logging.getLogger(__name__)

_KEEP = 1000


@dataclass
class ScanRequest:
    registry_url: str
    authorization: str
    repository: str
    digest: str
    tag: str
    mime_type: str
    sbom_media_types: list[str] = field(default_factory=list)


@dataclass
class Scan:
    id: str
    request: ScanRequest
    status: str = "Running"  # Running, Success, Error
    error: str = ""
    vulnerability_report: dict[str, Any] | None = None
    sboms: dict[str, dict[str, Any]] = field(default_factory=dict)


BUILTIN = "builtin"
TRIVY = "trivy"
ENGINES = (BUILTIN, TRIVY)


def read_inventory(request: ScanRequest, engine: str = BUILTIN) -> Inventory:
    """The image's packages: read from its layers as they stream in (builtin), or by Trivy
    from an OCI layout written to a temporary directory (trivy)."""
    reader = RegistryReader(request.registry_url, request.authorization)
    try:
        manifest, raw = reader.image_manifest(request.repository, request.digest)
        if engine == TRIVY:
            with tempfile.TemporaryDirectory(prefix="berth-scan-") as tmp:
                reader.save_layout(request.repository, manifest, raw, Path(tmp) / "image")
                return trivy.scan_layout(Path(tmp) / "image", Path(tmp) / "cache")
        fs = Filesystem()
        reader.apply_layers(request.repository, manifest, fs)
        return inventory_of(fs)
    finally:
        reader.close()


class Scans:
    def __init__(self, db: Database, info: ScannerInfo, engine: str = BUILTIN) -> None:
        self._db = db
        self._engine = engine
        self._info = info
        self._scans: OrderedDict[str, Scan] = OrderedDict()
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, request: ScanRequest) -> Scan:
        scan = Scan(secrets.token_hex(16), request)
        with self._lock:
            self._scans[scan.id] = scan
            while len(self._scans) > _KEEP:
                self._scans.popitem(last=False)
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._run, scan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return scan

    def get(self, scan_id: str) -> Scan | None:
        with self._lock:
            return self._scans.get(scan_id)

    def _run(self, scan: Scan) -> None:
        request = scan.request
        try:
            inventory = read_inventory(request, self._engine)
            artifact = {
                "repository": request.repository,
                "digest": request.digest,
                "mime_type": request.mime_type,
            }
            scan.vulnerability_report = report(self._db, inventory, self._info, artifact)
            name = f"{request.repository}@{request.digest}"
            tool = f"{self._info.name}-{self._info.version}"
            for media_type in request.sbom_media_types:
                scan.sboms[media_type] = sbom.generate(inventory, media_type, name, tool)
            scan.status = "Success"
        except (PullError, TrivyError, OSError, ValueError) as exc:
            log.warning(
                "scan %s of %s@%s failed: %s", scan.id, request.repository, request.digest, exc
            )
            scan.error = str(exc) or type(exc).__name__
            scan.status = "Error"
        except Exception as exc:
            log.exception("scan %s failed", scan.id)
            scan.error = f"{type(exc).__name__}: {exc}"
            scan.status = "Error"
