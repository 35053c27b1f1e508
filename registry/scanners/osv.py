"""The scanner's vulnerability database: OSV records imported into SQLite, and matching
packages against their affected ranges.

SQLite keeps the adapter self-contained: it runs air-gapped, beside any registry (Harbor
included), with no database server of its own; imports are one writer, scans many readers
(WAL). The records are kept whole (JSON) and indexed by (ecosystem, package name), which is
all a match needs.

Imports are incremental: a record is rewritten only when its ``modified`` is newer than the
stored one, so re-importing osv.dev's ``all.zip`` each day costs little more than reading it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.scanners import cvss
from registry.scanners.versions import Compare, comparator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vulnerabilities (
    id        TEXT PRIMARY KEY,
    modified  TEXT NOT NULL,
    record    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
    vuln_id   TEXT NOT NULL REFERENCES vulnerabilities (id) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    name      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_package ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_vuln ON affected (vuln_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def normalize_name(ecosystem: str, name: str) -> str:
    """PyPI names are compared in PEP 503's normal form; the others as they are."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


@dataclass
class ImportResult:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    invalid: int = 0

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class Database:
    """One SQLite file of OSV records."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)
        # One connection shared by the scan threads: SQLite serializes, this keeps the
        # Python side from interleaving an import's transaction with a lookup.
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ import

    def import_path(self, source: Path) -> ImportResult:
        """Import a zip of OSV JSON files, a folder (searched recursively) or one file."""
        with self._lock:
            return self._import_locked(source)

    def _import_locked(self, source: Path) -> ImportResult:
        result = ImportResult()
        self._conn.execute("BEGIN")
        try:
            # Every stored record's modified time, read once: most records of a re-import
            # have not changed, and comparing in memory is what makes that cheap.
            known = dict(self._conn.execute("SELECT id, modified FROM vulnerabilities"))
            for text in _records(source):
                self._import_one(text, result, known)
            self._conn.execute(
                "INSERT INTO meta (key, value) "
                "VALUES ('updated_at', strftime('%Y-%m-%dT%H:%M:%SZ')) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return result

    def _import_one(self, text: bytes, result: ImportResult, known: dict[str, str]) -> None:
        result.read += 1
        try:
            record = json.loads(text)
            vuln_id = str(record["id"])
            modified = str(record.get("modified") or "")
        except (ValueError, KeyError, TypeError):
            result.invalid += 1
            return
        stored = known.get(vuln_id)
        if stored is not None and stored >= modified:
            result.unchanged += 1
            return
        if record.get("withdrawn"):
            self._conn.execute("DELETE FROM vulnerabilities WHERE id = ?", (vuln_id,))
            known.pop(vuln_id, None)
            result.withdrawn += 1
            return
        known[vuln_id] = modified
        self._conn.execute("DELETE FROM vulnerabilities WHERE id = ?", (vuln_id,))
        self._conn.execute(
            "INSERT INTO vulnerabilities (id, modified, record) VALUES (?, ?, ?)",
            (vuln_id, modified, json.dumps(record, separators=(",", ":"))),
        )
        packages = {
            (
                str(a["package"]["ecosystem"]),
                normalize_name(
                    str(a["package"]["ecosystem"]).split(":")[0], str(a["package"]["name"])
                ),
            )
            for a in record.get("affected") or []
            if isinstance(a, dict)
            and isinstance(a.get("package"), dict)
            and "ecosystem" in a["package"]
            and "name" in a["package"]
        }
        self._conn.executemany(
            "INSERT INTO affected (vuln_id, ecosystem, name) VALUES (?, ?, ?)",
            [(vuln_id, eco, name) for eco, name in sorted(packages)],
        )
        if stored is None:
            result.added += 1
        else:
            result.updated += 1

    def updated_at(self) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'updated_at'").fetchone()
        return None if row is None else str(row[0])

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM vulnerabilities").fetchone()[0])

    # ------------------------------------------------------------------ lookup

    def records_for(self, ecosystem: str, name: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT v.record FROM affected a JOIN vulnerabilities v ON v.id = a.vuln_id "
                "WHERE a.ecosystem = ? AND a.name = ? ORDER BY v.id",
                (ecosystem, normalize_name(ecosystem.split(":")[0], name)),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]


# An OSV record is a few KiB; a far larger "record" is not one (or a zip bomb's payload).
MAX_RECORD_BYTES = 16 * 1024 * 1024


def _records(source: Path) -> Iterator[bytes]:
    """The raw records of a folder, zip or file; oversized ones come as ``b""`` (invalid)."""
    if source.is_dir():
        for path in sorted(source.rglob("*.json")):
            yield path.read_bytes() if path.stat().st_size <= MAX_RECORD_BYTES else b""
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    with archive.open(info) as member:
                        data = member.read(MAX_RECORD_BYTES + 1)
                    yield data if len(data) <= MAX_RECORD_BYTES else b""
    elif source.stat().st_size <= MAX_RECORD_BYTES:
        yield source.read_bytes()
    else:
        yield b""


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class Query:
    """A package as the vulnerability database names it."""

    ecosystem: str
    name: str
    version: str


@dataclass
class Finding:
    id: str
    severity: str
    fix_version: str
    description: str
    links: list[str]
    cvss_vector: str = ""
    cvss_score: float | None = None
    cwe_ids: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


def _in_range(version: str, events: list[dict[str, str]], compare: Compare) -> tuple[bool, str]:
    """OSV's range walk: (affected?, the fix that ends the matching interval)."""
    points: list[tuple[str, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                points.append((kind, str(event[kind])))

    def key_of(point: tuple[str, str]) -> tuple[int, str]:
        return (0, "") if point[1] == "0" else (1, point[1])

    # Sort events by version ("0" first); within the schema's rules introduced opens,
    # fixed/last_affected close, limit bounds the whole range from above.
    from functools import cmp_to_key

    def cmp(p: tuple[str, str], q: tuple[str, str]) -> int:
        kp, kq = key_of(p), key_of(q)
        if kp[0] != kq[0]:
            return kp[0] - kq[0]
        if kp[0] == 0:
            return 0
        return compare(p[1], q[1])

    points.sort(key=cmp_to_key(cmp))
    for kind, value in points:
        if kind == "limit" and value != "*" and compare(version, value) >= 0:
            return False, ""
    affected = False
    fix = ""
    for index, (kind, value) in enumerate(points):
        if kind == "introduced":
            if value == "0" or compare(version, value) >= 0:
                affected = True
                fix = ""
                for later_kind, later_value in points[index + 1 :]:
                    if later_kind == "fixed":
                        fix = later_value
                        break
                    if later_kind in ("last_affected", "introduced"):
                        break
        elif kind == "fixed":
            if compare(version, value) >= 0:
                affected = False
        elif kind == "last_affected" and compare(version, value) > 0:
            affected = False
    return affected, fix if affected else ""


def _severity(record: dict[str, Any], affected: dict[str, Any]) -> tuple[str, str, float | None]:
    """(severity, CVSS vector, score): a CVSS v3 vector wins, then v2, then the database's
    own rating."""
    entries = [*(affected.get("severity") or []), *(record.get("severity") or [])]
    for wanted in ("CVSS_V3", "CVSS_V2"):
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") != wanted:
                continue
            vector = str(entry.get("score", ""))
            score = (
                cvss.v3_base_score(vector) if wanted == "CVSS_V3" else cvss.v2_base_score(vector)
            )
            if score is not None:
                return cvss.severity_of_score(score), vector, score
    for holder in (
        affected.get("ecosystem_specific"),
        affected.get("database_specific"),
        record.get("database_specific"),
    ):
        if isinstance(holder, dict) and isinstance(holder.get("severity"), str):
            return cvss.severity_of_name(holder["severity"]), "", None
    for entry in entries:
        if isinstance(entry, dict) and entry.get("type") == "Ubuntu":
            return cvss.severity_of_name(str(entry.get("score", ""))), "", None
    return "Unknown", "", None


def match_record(record: dict[str, Any], query: Query) -> Finding | None:
    compare = comparator(query.ecosystem)
    wanted_name = normalize_name(query.ecosystem.split(":")[0], query.name)
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if package.get("ecosystem") != query.ecosystem:
            continue
        if normalize_name(query.ecosystem.split(":")[0], str(package.get("name"))) != wanted_name:
            continue
        hit = query.version in (affected.get("versions") or [])
        fix = ""
        for version_range in affected.get("ranges") or []:
            if version_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            inside, range_fix = _in_range(query.version, version_range.get("events") or [], compare)
            if inside:
                hit = True
                fix = fix or range_fix
        if not hit:
            continue
        severity, vector, score = _severity(record, affected)
        references = [str(r["url"]) for r in record.get("references") or [] if "url" in r]
        cwes = (record.get("database_specific") or {}).get("cwe_ids") or []
        return Finding(
            id=str(record["id"]),
            severity=severity,
            fix_version=fix,
            description=str(record.get("summary") or record.get("details") or ""),
            links=references,
            cvss_vector=vector,
            cvss_score=score,
            cwe_ids=[str(c) for c in cwes],
            aliases=[str(a) for a in record.get("aliases") or []],
        )
    return None


def match(db: Database, query: Query) -> list[Finding]:
    found = []
    for record in db.records_for(query.ecosystem, query.name):
        finding = match_record(record, query)
        if finding is not None:
            found.append(finding)
    return found
