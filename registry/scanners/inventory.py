"""What is installed in an image: packages found in its layers' package databases.

Layers are read as streams (``tarfile`` in ``r|*`` mode over the decompressing response), so
memory stays flat however large a layer is: only the files that describe packages are kept,
each capped in size. Layers apply bottom up with OCI whiteouts: ``dir/.wh.name`` removes
``name`` from the layers below, and ``dir/.wh..wh..opq`` hides everything below in ``dir``
before the layer's own entries count, whatever their order in the tar.
"""

from __future__ import annotations

import email.parser
import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
# Package databases are small; anything larger is not one (or not worth a scan's memory).
_MAX_DB_BYTES = 64 * 1024 * 1024
_MAX_META_BYTES = 1024 * 1024

DEB = "deb"
APK = "apk"
PYPI = "pypi"
NPM = "npm"


def _is_package_file(path: str) -> bool:
    if path in (
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "etc/os-release",
        "usr/lib/os-release",
    ):
        return True
    if path.startswith("var/lib/dpkg/status.d/") and not path.endswith(".md5sums"):
        return True
    if path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO"):
        return True
    if path.endswith("/EGG-INFO/PKG-INFO") or path.endswith(".egg-info"):
        return True
    return path.endswith("/package.json") and "node_modules/" in path


def _clean(name: str) -> str:
    name = name.lstrip("./")
    while name.startswith("/"):
        name = name[1:]
    return name.rstrip("/")


@dataclass
class Filesystem:
    """The package-describing files of an image, layers applied."""

    files: dict[str, bytes] = field(default_factory=dict)

    def _remove(self, path: str) -> None:
        prefix = path + "/"
        for key in [k for k in self.files if k == path or k.startswith(prefix)]:
            del self.files[key]

    def _hide_children(self, directory: str) -> None:
        prefix = directory + "/" if directory else ""
        for key in [k for k in self.files if k.startswith(prefix)]:
            del self.files[key]

    def apply_layer(self, stream: IO[bytes]) -> None:
        """Apply one layer tar (any compression tarfile can detect) read as a stream."""
        added: dict[str, bytes] = {}
        removed: list[str] = []
        opaque: list[str] = []
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                path = _clean(member.name)
                directory, _, base = path.rpartition("/")
                if base == OPAQUE:
                    opaque.append(directory)
                    continue
                if base.startswith(WHITEOUT):
                    removed.append(f"{directory}/{base[len(WHITEOUT) :]}".lstrip("/"))
                    continue
                if not member.isdir():
                    # A file or link here hides whatever the layers below had at the path.
                    self.files.pop(path, None)
                if not member.isfile() or not _is_package_file(path):
                    continue
                limit = _MAX_DB_BYTES if "/dpkg/" in path or "/apk/" in path else _MAX_META_BYTES
                if member.size > limit:
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    added[path] = handle.read()
        for directory in opaque:
            self._hide_children(directory)
        for path in removed:
            self._remove(path)
        self.files.update(added)


@dataclass(frozen=True, slots=True)
class Package:
    type: str  # deb, apk, pypi, npm
    name: str
    version: str
    source_name: str = ""
    source_version: str = ""
    arch: str = ""
    license: str = ""
    path: str = ""

    def purl(self, os_id: str = "", os_version: str = "") -> str:
        if self.type == DEB:
            namespace = os_id or "debian"
            qualifiers = f"?arch={self.arch}" if self.arch else ""
            if os_version:
                qualifiers += ("&" if qualifiers else "?") + f"distro={namespace}-{os_version}"
            return f"pkg:deb/{namespace}/{self.name}@{self.version}{qualifiers}"
        if self.type == APK:
            namespace = os_id or "alpine"
            qualifiers = f"?arch={self.arch}" if self.arch else ""
            return f"pkg:apk/{namespace}/{self.name}@{self.version}{qualifiers}"
        if self.type == PYPI:
            return f"pkg:pypi/{re.sub(r'[-_.]+', '-', self.name).lower()}@{self.version}"
        name = self.name.replace("@", "%40")
        return f"pkg:npm/{name}@{self.version}"


@dataclass
class OperatingSystem:
    id: str = ""
    version_id: str = ""
    pretty_name: str = ""

    @property
    def ecosystem(self) -> str:
        """The OSV ecosystem of its distribution packages ("" when none is known)."""
        if self.id == "debian" and self.version_id:
            return f"Debian:{self.version_id.split('.')[0]}"
        if self.id == "alpine" and self.version_id:
            return "Alpine:v" + ".".join(self.version_id.split(".")[:2])
        if self.id == "ubuntu" and self.version_id:
            return f"Ubuntu:{self.version_id}"
        return ""


@dataclass
class Inventory:
    os: OperatingSystem
    packages: list[Package]


def _stanzas(text: str) -> Iterable[dict[str, str]]:
    """RFC822-style paragraphs (dpkg's status): continuation lines start with a space."""
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line.strip()
                continue
            key, sep, value = line.partition(":")
            if sep:
                last = key.strip()
                fields[last] = value.strip()
        if fields:
            yield fields


def parse_dpkg(text: str, path: str) -> list[Package]:
    found = []
    for fields in _stanzas(text):
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version:
            continue
        status = fields.get("Status", "install ok installed")
        if "deinstall" in status or "purge" in status or "not-installed" in status:
            continue
        source_name, source_version = name, version
        if source := fields.get("Source"):
            match = re.match(r"^(\S+)(?:\s+\((\S+)\))?", source)
            if match:
                source_name = match[1]
                source_version = match[2] or version
        found.append(
            Package(
                DEB,
                name,
                version,
                source_name,
                source_version,
                fields.get("Architecture", ""),
                "",
                path,
            )
        )
    return found


def parse_apk(text: str, path: str) -> list[Package]:
    found = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:].strip()
        name, version = fields.get("P"), fields.get("V")
        if name and version:
            found.append(
                Package(
                    APK,
                    name,
                    version,
                    fields.get("o") or name,
                    version,
                    fields.get("A", ""),
                    fields.get("L", ""),
                    path,
                )
            )
    return found


def parse_python(raw: bytes, path: str) -> Package | None:
    headers = email.parser.BytesHeaderParser().parsebytes(raw[:65536])
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    return Package(
        PYPI,
        str(name).strip(),
        str(version).strip(),
        license=str(headers.get("License") or "").strip()[:200],
        path=path,
    )


def parse_npm(raw: bytes, path: str) -> Package | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    name, version = body.get("name"), body.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return None
    license_ = body.get("license")
    return Package(
        NPM, name, version, license=license_ if isinstance(license_, str) else "", path=path
    )


def parse_os_release(text: str) -> OperatingSystem:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"').strip("'")
    return OperatingSystem(
        values.get("ID", ""), values.get("VERSION_ID", ""), values.get("PRETTY_NAME", "")
    )


def inventory_of(fs: Filesystem) -> Inventory:
    os_text = fs.files.get("etc/os-release") or fs.files.get("usr/lib/os-release") or b""
    operating_system = parse_os_release(os_text.decode(errors="replace"))
    packages: list[Package] = []
    for path in sorted(fs.files):
        raw = fs.files[path]
        if path == "var/lib/dpkg/status" or path.startswith("var/lib/dpkg/status.d/"):
            packages.extend(parse_dpkg(raw.decode(errors="replace"), path))
        elif path == "lib/apk/db/installed":
            packages.extend(parse_apk(raw.decode(errors="replace"), path))
        elif path.endswith(("METADATA", "PKG-INFO", ".egg-info")):
            package = parse_python(raw, path)
            if package is not None:
                packages.append(package)
        elif path.endswith("package.json"):
            npm = parse_npm(raw, path)
            if npm is not None:
                packages.append(npm)
    unique = list(dict.fromkeys(packages))
    return Inventory(operating_system, unique)
