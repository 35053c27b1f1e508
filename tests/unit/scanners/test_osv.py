from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from registry.scanners.osv import MAX_RECORD_BYTES, Database, Query, match
from tests.fixtures.images import OSV_FIXTURES


def _db(tmp_path: Path) -> Database:
    db = Database(tmp_path / "osv.sqlite")
    result = db.import_path(OSV_FIXTURES)
    assert result.read == 11
    assert result.added == 10
    assert result.withdrawn == 1
    return db


def _ids(db: Database, ecosystem: str, name: str, version: str) -> dict[str, str]:
    return {f.id: f.fix_version for f in match(db, Query(ecosystem, name, version))}


def test_fixed_and_introduced_events(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert _ids(db, "Debian:12", "openssl", "3.0.9-1") == {
        "DEBIAN-CVE-2023-0001": "3.0.11-1~deb12u2"
    }
    # The fix itself and anything after it are not affected; neither is another release.
    assert _ids(db, "Debian:12", "openssl", "3.0.11-1~deb12u2") == {}
    assert _ids(db, "Debian:12", "openssl", "3.0.11-1") == {}
    # requests: introduced 2.3.0 — older versions are outside the range.
    assert _ids(db, "PyPI", "requests", "2.28.1") == {"GHSA-j8r2-6x86-q33q": "2.31.0"}
    assert _ids(db, "PyPI", "requests", "2.2.1") == {}
    # PEP 503 names: Requests, requests and REQUESTS are one package.
    assert _ids(db, "PyPI", "REQUESTS", "2.30.0") == {"GHSA-j8r2-6x86-q33q": "2.31.0"}


def test_last_affected_and_limit(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert _ids(db, "Debian:12", "zlib", "1:1.2.13.dfsg-1") == {"DEBIAN-CVE-2023-0002": ""}
    assert _ids(db, "Debian:12", "zlib", "1:1.2.13.dfsg-1.1") == {}
    # Without its epoch the version sorts before every 1: version, so it is affected too.
    assert "DEBIAN-CVE-2023-0002" in _ids(db, "Debian:12", "zlib", "1.3")
    assert _ids(db, "npm", "minimist", "0.2.0") == {"GHSA-limit-0000-0000": ""}
    assert _ids(db, "npm", "minimist", "1.2.8") == {}


def test_severity_from_vectors_and_database_rating(tmp_path: Path) -> None:
    db = _db(tmp_path)
    (openssl,) = match(db, Query("Debian:12", "openssl", "3.0.9-1"))
    assert (openssl.severity, openssl.cvss_score) == ("Critical", 9.8)
    assert openssl.aliases == ["CVE-2023-0001"]
    (lodash,) = match(db, Query("npm", "lodash", "4.17.20"))
    assert lodash.severity == "High"
    assert lodash.cvss_score is None
    (busybox,) = match(db, Query("Alpine:v3.19", "busybox", "1.36.1-r15"))
    assert (busybox.severity, busybox.fix_version) == ("High", "1.36.1-r16")
    assert match(db, Query("Alpine:v3.19", "musl", "1.2.4_git20230717-r5")) == []


def test_import_is_incremental_by_modified(tmp_path: Path) -> None:
    db = _db(tmp_path)
    again = db.import_path(OSV_FIXTURES)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 10)
    # A newer record replaces the stored one; an older one is ignored.
    folder = tmp_path / "update"
    folder.mkdir()
    record = json.loads((OSV_FIXTURES / "GHSA-35jh-r3h4-6jhm.json").read_text())
    record["modified"] = "2024-01-01T00:00:00Z"
    record["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}, {"fixed": "4.17.20"}]
    (folder / "newer.json").write_text(json.dumps(record))
    stale = json.loads((OSV_FIXTURES / "GHSA-j8r2-6x86-q33q.json").read_text())
    stale["modified"] = "2020-01-01T00:00:00Z"
    stale["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}]
    (folder / "stale.json").write_text(json.dumps(stale))
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.iterdir():
            zipped.write(path, path.name)
    shutil.rmtree(folder)
    result = db.import_path(archive)
    assert (result.read, result.updated, result.unchanged) == (2, 1, 1)
    assert _ids(db, "npm", "lodash", "4.17.20") == {}
    assert _ids(db, "PyPI", "requests", "2.2.1") == {}
    assert db.count() == 10


def test_an_oversized_or_broken_record_is_counted_invalid(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("huge.json", b" " * (MAX_RECORD_BYTES + 1))
        zipped.writestr("broken.json", b"{not json")
        zipped.writestr("no-id.json", b"{}")
    db = Database(tmp_path / "osv.sqlite")
    result = db.import_path(archive)
    assert (result.read, result.invalid, db.count()) == (3, 3, 0)
