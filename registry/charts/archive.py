"""Reading a packaged chart (``<name>-<version>.tgz``) and refusing a bad one.

A chart archive is a gzipped tar whose entries all sit under one directory named after the
chart, with ``<name>/Chart.yaml`` in it. Everything is bounded before it is read: the number
of entries, each file's size and the unpacked total (a tar bomb stops at the first header
past a limit, before its bytes are inflated). Links, devices, absolute paths and ``..`` are
refused: nothing in a chart may point outside it.
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any

from registry.charts.limits import ChartLimits
from registry.charts.metadata import (
    BadChart,
    check_dependencies,
    load_yaml,
    parse_chart_yaml,
)

GZIP_MAGIC = b"\x1f\x8b"
_NAMES_A_VERSION = re.compile(r"^.+-v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]*)?\.tgz$")
# Files kept whole for the chart's details; the rest are only listed.
_KEPT = ("chart.yaml", "values.yaml", "readme.md", "requirements.yaml", "values.schema.json")


@dataclass
class ChartPackage:
    metadata: dict[str, Any]
    files: list[str]
    values: str = ""
    readme: str | None = None
    schema: str | None = None
    dependencies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        name: str = self.metadata["name"]
        return name

    @property
    def version(self) -> str:
        version: str = self.metadata["version"]
        return version

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tgz"


def _entry_path(name: str) -> list[str]:
    if "\\" in name or name.startswith("/") or "\x00" in name:
        raise BadChart(f"chart entry {name!r} has an absolute or illegal path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadChart(f"chart entry {name!r} points outside the chart (path traversal)")
    return parts


def read_chart(stream: IO[bytes], limits: ChartLimits) -> ChartPackage:
    """The chart packaged in ``stream`` (a seekable binary file), checked; BadChart
    says what is wrong with it."""
    stream.seek(0)
    if stream.read(2) != GZIP_MAGIC:
        raise BadChart("the chart is not a gzipped tar archive (.tgz)")
    stream.seek(0)
    top: str | None = None
    kept: dict[str, bytes] = {}
    files: list[str] = []
    total = 0
    entries = 0
    try:
        with tarfile.open(fileobj=stream, mode="r:gz") as tar:
            for member in tar:
                entries += 1
                if entries > limits.max_entries:
                    raise BadChart(f"the chart has more than {limits.max_entries} entries")
                parts = _entry_path(member.name)
                if not parts:
                    continue
                if not (member.isfile() or member.isdir()):
                    raise BadChart(
                        f"chart entry {member.name!r} is a link or special file; charts hold "
                        "only files and directories"
                    )
                if top is None:
                    top = parts[0]
                elif parts[0] != top:
                    raise BadChart("the chart's entries are not all under one directory")
                if member.isdir():
                    continue
                if member.size > limits.max_file_bytes:
                    raise BadChart(
                        f"chart file {member.name!r} is larger than {limits.max_file_bytes} bytes"
                    )
                total += member.size
                if total > limits.max_unpacked_bytes:
                    raise BadChart(
                        f"the chart unpacks to more than {limits.max_unpacked_bytes} bytes"
                    )
                relative = posixpath.join(*parts[1:]) if len(parts) > 1 else ""
                if not relative:
                    continue
                files.append(relative)
                if relative.lower() in _KEPT and relative.lower() not in kept:
                    data = tar.extractfile(member)
                    assert data is not None
                    kept[relative.lower()] = data.read()
    except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise BadChart(f"the chart is not a valid gzipped tar archive: {exc}") from None
    if top is None or "chart.yaml" not in kept:
        raise BadChart("the chart has no Chart.yaml")
    metadata = parse_chart_yaml(kept["chart.yaml"])
    if metadata["name"] != top:
        raise BadChart(
            f"Chart.yaml names the chart {metadata['name']!r} but the archive holds {top!r}"
        )
    dependencies = list(metadata.get("dependencies") or [])
    if not dependencies and "requirements.yaml" in kept:
        # apiVersion v1 charts list them in requirements.yaml.
        requirements = load_yaml(kept["requirements.yaml"], "requirements.yaml")
        if isinstance(requirements, dict):
            dependencies = check_dependencies(requirements.get("dependencies"), "requirements.yaml")
    return ChartPackage(
        metadata=metadata,
        files=sorted(files),
        values=_text(kept.get("values.yaml")) or "",
        readme=_text(kept.get("readme.md")),
        schema=_text(kept.get("values.schema.json")),
        dependencies=[dict(d) for d in dependencies],
    )


def _text(data: bytes | None) -> str | None:
    return data.decode("utf-8", errors="replace") if data is not None else None


def check_filename(package: ChartPackage, filename: str | None) -> None:
    """An upload's file name that names a chart version (``<name>-<version>.tgz``) must name
    the one inside; other names (``chart.tgz``) say nothing and pass."""
    base = posixpath.basename(filename or "")
    if _NAMES_A_VERSION.match(base) and base != package.filename:
        raise BadChart(
            f"the file {filename!r} holds chart {package.name} version {package.version}: "
            f"its name must be {package.filename}"
        )
