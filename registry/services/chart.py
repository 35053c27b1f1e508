"""Chart repositories: uploading, listing, downloading and deleting chart versions of a
project, its ``index.yaml``, and the chart additions of the artifact API.

A chart version is kept as Helm's own OCI chart artifact in the repository
``<project>/<name>``, tagged with its version (``+`` written ``_``): config blob = Chart.yaml
as JSON, a layer for the .tgz and one for the .prov when there is one. So one stored chart
answers ``helm repo add`` and ``helm pull oci://`` alike, counts in the quota, and is
collected like every blob. ``chart_versions`` keeps what the index needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import asyncpg

from registry.auth.principal import Principal
from registry.charts import index as chart_index
from registry.charts import provenance
from registry.charts.archive import ChartPackage, check_filename, read_chart
from registry.charts.limits import ChartLimits
from registry.charts.metadata import BadChart, load_yaml, version_key
from registry.db import artifacts, charts
from registry.events import DELETE_CHART, DOWNLOAD_CHART, UPLOAD_CHART
from registry.oci import mediatypes
from registry.oci.digest import Digest
from registry.rbac import Action, ProjectRef
from registry.services import access, lease, notify
from registry.services.artifact import HELM_CONFIG, remove_artifacts
from registry.services.audit import PULL, AuditEvent
from registry.services.blob import read_blob
from registry.services.context import Backends
from registry.services.errors import (
    ChartExists,
    ChartInvalid,
    ChartTooLarge,
    ChartUnknown,
)
from registry.services.manifest import store_manifest
from registry.services.upload import upload_whole

log = logging.getLogger(__name__)

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
LEGACY_CHART_LAYER = "application/tar+gzip"
PROV_LAYER = "application/vnd.cncf.helm.chart.provenance.v1.prov"
_CHUNK = 1024 * 1024
_CACHE_SECONDS = 24 * 3600
_LEASE_WAIT = 30.0


def limits(b: Backends) -> ChartLimits:
    return b.settings.charts


def tag_of(version: str) -> str:
    """The OCI tag Helm gives a chart version (OCI tags cannot hold ``+``)."""
    return version.replace("+", "_")


def repository_of(project: ProjectRef, name: str) -> str:
    return f"{project.name}/{name}"


# ---------------------------------------------------------------------------- files


@dataclass
class ChartFile:
    """An uploaded file, spooled (in memory while small, then on disk) and hashed."""

    stream: IO[bytes]
    size: int
    digest: Digest

    def read_all(self) -> bytes:
        self.stream.seek(0)
        return self.stream.read()


def spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=_CHUNK)


async def spool_stream(chunks: AsyncIterator[bytes], limit: int, what: str) -> ChartFile:
    """Write ``chunks`` to a spooled file, refusing more than ``limit`` bytes."""
    out = spool()
    hasher = hashlib.sha256()
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ChartTooLarge(f"the {what} is larger than the {limit} byte limit")
            hasher.update(chunk)
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    return ChartFile(out, size, Digest("sha256", hasher.hexdigest()))


def file_of(stream: IO[bytes], limit: int, what: str) -> ChartFile:
    """A file already spooled by the form parser, measured and hashed here."""
    stream.seek(0)
    hasher = hashlib.sha256()
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ChartTooLarge(f"the {what} is larger than the {limit} byte limit")
        hasher.update(chunk)
    return ChartFile(stream, size, Digest("sha256", hasher.hexdigest()))


async def _chunks_of(file: ChartFile) -> AsyncIterator[bytes]:
    file.stream.seek(0)
    while chunk := file.stream.read(_CHUNK):
        yield chunk


async def _store_blob(
    b: Backends, project: ProjectRef, repository: str, file: ChartFile, operator: str
) -> None:
    # A refusal for the quota is announced (QUOTA_EXCEED) as for any push.
    await upload_whole(
        b, project, repository, file.digest, _chunks_of(file), file.size, operator=operator
    )


def _descriptor(media_type: str, digest: Digest | str, size: int) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(digest), "size": size}


# ---------------------------------------------------------------------------- upload


async def upload_chart(
    b: Backends,
    actor: Principal,
    project: ProjectRef,
    chart: ChartFile,
    prov: ChartFile | None = None,
    *,
    filename: str | None = None,
    force: bool = False,
) -> ChartPackage:
    """Check and store a packaged chart (and its provenance file). An existing version is
    replaced only with ``force``; otherwise ChartExists."""
    await access.require(b.db, actor, project, Action.UPLOAD_CHART)
    try:
        package = await asyncio.to_thread(read_chart, chart.stream, limits(b))
        check_filename(package, filename)
        if prov is not None:
            provenance.check_matches(prov.read_all(), package.filename, str(chart.digest))
    except BadChart as exc:
        raise ChartInvalid(str(exc)) from None
    repository = repository_of(project, package.name)
    async with await _version_lease(b, repository, package.version):
        existing = await artifacts.get_by_tag(b.db, repository, tag_of(package.version))
        if existing is not None and not force:
            raise ChartExists("file already exists")
        await _store_blob(b, project, repository, chart, actor.name)
        if prov is not None:
            await _store_blob(b, project, repository, prov, actor.name)
        await _publish(
            b,
            project,
            package.metadata,
            (chart.digest, chart.size),
            (prov.digest, prov.size) if prov is not None else None,
            replacing=existing["id"] if existing is not None else None,
            operator=actor.name,
        )
    resource = f"{repository}:{package.version}"
    await b.audit.record(AuditEvent("create", "chart", resource, actor.name, project.id))
    notify.chart_event(b, UPLOAD_CHART, project, package.name, package.version, actor.name)
    return package


async def upload_provenance(
    b: Backends, actor: Principal, project: ProjectRef, prov: ChartFile
) -> str:
    """Add (or replace) the provenance file of a stored chart version; returns the file name
    of the chart it signs."""
    await access.require(b.db, actor, project, Action.UPLOAD_CHART)
    content = prov.read_all()
    try:
        filename = provenance.chart_named(content)
        row = await _version_by_filename(b, project, filename)
        provenance.check_matches(content, filename, row["chart_digest"])
    except BadChart as exc:
        raise ChartInvalid(str(exc)) from None
    async with await _version_lease(b, repository_of(project, row["name"]), row["version"]):
        # Read again under the lease: a forced upload may have replaced the chart meanwhile.
        row = await _version_by_filename(b, project, filename)
        try:
            provenance.check_matches(content, filename, row["chart_digest"])
        except BadChart as exc:
            raise ChartInvalid(str(exc)) from None
        await _store_blob(b, project, repository_of(project, row["name"]), prov, actor.name)
        await _publish(
            b,
            project,
            charts.metadata_of(row),
            (Digest.parse(row["chart_digest"]), row["chart_size"]),
            (prov.digest, prov.size),
            replacing=row["artifact_id"],
            operator=actor.name,
        )
    await b.audit.record(
        AuditEvent(
            "create",
            "chart",
            f"{repository_of(project, row['name'])}:{row['version']}.prov",
            actor.name,
            project.id,
        )
    )
    return filename


async def _version_lease(b: Backends, repository: str, version: str) -> lease.Lease:
    """One change of a chart version at a time, so two racing uploads cannot both find it
    new, nor a provenance file land beside a chart replaced meanwhile."""
    try:
        return await lease.acquire(
            b.redis, f"berth:chart:{repository}:{version}", wait_seconds=_LEASE_WAIT
        )
    except lease.LeaseBusy:
        raise ChartExists("another upload of this chart version is in progress") from None


async def _publish(
    b: Backends,
    project: ProjectRef,
    metadata: dict[str, Any],
    chart: tuple[Digest, int],
    prov: tuple[Digest, int] | None,
    *,
    replacing: int | None,
    operator: str,
) -> None:
    """Store the OCI manifest of a chart version (its blobs already in the project), point
    the version's tag and record at it, and drop the artifact it replaces."""
    name, version = metadata["name"], metadata["version"]
    repository = repository_of(project, name)
    config = json.dumps(metadata, separators=(",", ":"), sort_keys=True).encode()
    config_file = ChartFile(spool(), len(config), Digest.of(config))
    config_file.stream.write(config)
    try:
        await _store_blob(b, project, repository, config_file, operator)
    finally:
        config_file.stream.close()
    layers = [_descriptor(CHART_LAYER, chart[0], chart[1])]
    if prov is not None:
        layers.append(_descriptor(PROV_LAYER, prov[0], prov[1]))
    layers.sort(key=lambda d: str(d["digest"]))
    now = datetime.now(UTC)
    annotations = {
        "org.opencontainers.image.title": name,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": chart_index.rfc3339(now.replace(microsecond=0)),
    }
    if isinstance(metadata.get("description"), str):
        annotations["org.opencontainers.image.description"] = metadata["description"]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": _descriptor(HELM_CONFIG, config_file.digest, config_file.size),
            "layers": layers,
            "annotations": annotations,
        },
        separators=(",", ":"),
    ).encode()
    pushed = await store_manifest(
        b, project, repository, tag_of(version), manifest, mediatypes.OCI_MANIFEST
    )
    stored = await artifacts.get_by_digest(b.db, repository, str(pushed.digest))
    assert stored is not None
    await charts.record(
        b.db,
        project_id=project.id,
        name=name,
        version=version,
        artifact_id=stored["id"],
        chart_digest=str(chart[0]),
        chart_size=chart[1],
        prov_digest=str(prov[0]) if prov is not None else None,
        metadata=metadata,
        index_entry=chart_index.entry_fragment(metadata, chart[0].hex, now),
    )
    if replacing is not None and replacing != stored["id"]:
        still_tagged = (await artifacts.tags_of(b.db, [replacing]))[replacing]
        if not still_tagged and not await artifacts.parents_of(b.db, replacing):
            await remove_artifacts(b, project, [replacing])


# ---------------------------------------------------------------------------- reading


async def _version_by_filename(b: Backends, project: ProjectRef, filename: str) -> asyncpg.Record:
    row = await charts.by_filename(b.db, project.id, filename)
    if row is None:
        raise ChartUnknown(f"no chart file {filename} in project {project.name}")
    return row


async def project_index(b: Backends, actor: Principal, project: ProjectRef) -> bytes:
    """The project's index.yaml, built again only when its chart versions changed."""
    await access.require(b.db, actor, project, Action.READ_CHART)
    revision = await charts.revision(b.db, project.id)
    key = f"berth:chartindex:{project.id}"
    prefix = f"{revision}\n".encode()
    try:
        cached = await b.redis.get(key)
    except Exception:  # the index can always be built without the cache
        log.warning("reading the cached index of project %s failed", project.name, exc_info=True)
        cached = None
    if isinstance(cached, bytes) and cached.startswith(prefix):
        return cached[len(prefix) :]
    body = build_index(await charts.index_rows(b.db, [project.id]), merged=False)
    try:
        await b.redis.set(key, prefix + body, ex=_CACHE_SECONDS)
    except Exception:
        log.warning("caching the index of project %s failed", project.name, exc_info=True)
    return body


async def merged_index(b: Backends, actor: Principal) -> bytes:
    """Harbor's ``/chartrepo/index.yaml``: every project the caller may pull from, chart names
    as ``<project>/<name>`` and URLs under ``<project>/``."""
    readable = [
        row["id"]
        for row in await charts.projects_with_charts(b.db)
        if await access.may(
            b.db, actor, ProjectRef(row["id"], row["name"], row["public"]), Action.READ_CHART
        )
    ]
    return build_index(await charts.index_rows(b.db, readable), merged=True)


def build_index(rows: Sequence[Mapping[str, Any]], *, merged: bool) -> bytes:
    """index.yaml of ``rows`` (project, name, version, index_entry), in their order (by
    project and name, newest upload first)."""
    entries = []
    for row in rows:
        filename = f"charts/{row['name']}-{row['version']}.tgz"
        name = f"{row['project']}/{row['name']}" if merged else row["name"]
        url = f"{row['project']}/{filename}" if merged else filename
        entries.append(chart_index.IndexEntry(name, url, row["index_entry"]))
    return chart_index.render(entries, datetime.now(UTC).replace(microsecond=0))


@dataclass(frozen=True, slots=True)
class Download:
    size: int
    media_type: str
    chunks: AsyncIterator[bytes]


async def download(b: Backends, actor: Principal, project: ProjectRef, filename: str) -> Download:
    """A chart archive (``.tgz``) or its provenance file (``.tgz.prov``)."""
    await access.require(b.db, actor, project, Action.READ_CHART)
    is_prov = filename.endswith(".tgz.prov")
    row = await _version_by_filename(b, project, filename.removesuffix(".prov"))
    if is_prov:
        if row["prov_digest"] is None:
            raise ChartUnknown(f"chart {filename.removesuffix('.prov')} has no provenance file")
        digest = Digest.parse(row["prov_digest"])
        size = await charts.blob_size(b.db, row["prov_digest"])
        return Download(size, "application/pgp-signature", read_blob(b, digest))
    notify.chart_event(b, DOWNLOAD_CHART, project, row["name"], row["version"], actor.name)
    await b.audit.record(
        AuditEvent(
            PULL,
            "chart",
            f"{repository_of(project, row['name'])}:{row['version']}",
            actor.name,
            project.id,
        )
    )
    return Download(
        row["chart_size"], "application/x-tar", read_blob(b, Digest.parse(row["chart_digest"]))
    )


def version_json(row: asyncpg.Record) -> dict[str, Any]:
    """ChartMuseum's ChartVersion: Chart.yaml fields, urls, created, digest."""
    body = charts.metadata_of(row)
    body["urls"] = [f"charts/{row['name']}-{row['version']}.tgz"]
    body["created"] = chart_index.rfc3339(row["created_at"])
    body["digest"] = Digest.parse(row["chart_digest"]).hex
    return body


def _newest(rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
    return sorted(rows, key=lambda r: version_key(r["version"]), reverse=True)


async def list_charts(b: Backends, actor: Principal, project: ProjectRef) -> list[dict[str, Any]]:
    """Harbor's ChartInfo of every chart in the project, by name."""
    await access.require(b.db, actor, project, Action.READ_CHART)
    by_name: dict[str, list[asyncpg.Record]] = {}
    for row in await charts.in_project(b.db, project.id):
        by_name.setdefault(row["name"], []).append(row)
    listed = []
    for name, rows in sorted(by_name.items()):
        newest = _newest(rows)
        latest = charts.metadata_of(newest[0])
        listed.append(
            {
                "name": name,
                "total_versions": len(rows),
                "latest_version": newest[0]["version"],
                "created": chart_index.rfc3339(min(r["created_at"] for r in rows)),
                "updated": chart_index.rfc3339(max(r["updated_at"] for r in rows)),
                "icon": latest.get("icon", ""),
                "home": latest.get("home", ""),
                "deprecated": bool(latest.get("deprecated", False)),
            }
        )
    return listed


async def chart_versions(
    b: Backends, actor: Principal, project: ProjectRef, name: str
) -> list[dict[str, Any]]:
    await access.require(b.db, actor, project, Action.READ_CHART)
    rows = await charts.versions_of(b.db, project.id, name)
    if not rows:
        raise ChartUnknown("chart not found")
    return [version_json(row) for row in _newest(rows)]


async def _find_version(
    b: Backends, project: ProjectRef, name: str, version: str
) -> asyncpg.Record:
    if version == "latest":
        rows = await charts.versions_of(b.db, project.id, name)
        if not rows:
            raise ChartUnknown("chart not found")
        return _newest(rows)[0]
    row = await charts.get(b.db, project.id, name, version)
    if row is None:
        raise ChartUnknown("chart version not found")
    return row


async def _read_package(b: Backends, digest: str, size: int) -> ChartPackage:
    """A stored chart archive, read back (within the upload limits it was taken under)."""
    if size > limits(b).max_upload_bytes:
        raise ChartInvalid("the stored chart is larger than the upload limit")
    stream = spool()
    try:
        async for chunk in read_blob(b, Digest.parse(digest)):
            stream.write(chunk)
        return await asyncio.to_thread(read_chart, stream, limits(b))
    except BadChart as exc:
        raise ChartInvalid(f"the stored chart cannot be read: {exc}") from None
    finally:
        stream.close()


def flatten_values(values: str) -> dict[str, Any]:
    """values.yaml as Harbor's details show it: nested keys joined with dots."""
    try:
        parsed = load_yaml(values.encode(), "values.yaml") if values.strip() else {}
    except BadChart:
        return {}
    flat: dict[str, Any] = {}
    pending: list[tuple[str, Any]] = [("", parsed)]
    while pending:
        prefix, value = pending.pop()
        if isinstance(value, dict) and value:
            pending.extend((f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items())
        elif prefix:
            flat[prefix] = value
    return dict(sorted(flat.items()))


async def version_detail(
    b: Backends, actor: Principal, project: ProjectRef, name: str, version: str
) -> dict[str, Any]:
    """Harbor's ChartVersionDetails: metadata, dependencies, values, files, security."""
    await access.require(b.db, actor, project, Action.READ_CHART)
    row = await _find_version(b, project, name, version)
    package = await _read_package(b, row["chart_digest"], row["chart_size"])
    files = {"values.yaml": package.values}
    if package.readme is not None:
        files["README.md"] = package.readme
    if package.schema is not None:
        files["values.schema.json"] = package.schema
    filename = f"{row['name']}-{row['version']}.tgz"
    return {
        "metadata": version_json(row),
        "dependencies": package.dependencies,
        "values": flatten_values(package.values),
        "files": files,
        "security": {
            "signature": {
                "signed": row["prov_digest"] is not None,
                "prov_file": f"{filename}.prov" if row["prov_digest"] is not None else "",
            }
        },
        "labels": [],
    }


# ---------------------------------------------------------------------------- deleting


async def delete_version(
    b: Backends, actor: Principal, project: ProjectRef, name: str, version: str
) -> None:
    await access.require(b.db, actor, project, Action.DELETE_CHART)
    row = await charts.get(b.db, project.id, name, version)
    if row is None:
        raise ChartUnknown("chart version not found")
    await _delete_rows(b, actor, project, [row])


async def delete_chart(b: Backends, actor: Principal, project: ProjectRef, name: str) -> None:
    """Every version of the chart (Harbor's DELETE of a chart)."""
    await access.require(b.db, actor, project, Action.DELETE_CHART)
    rows = await charts.versions_of(b.db, project.id, name)
    if not rows:
        raise ChartUnknown("chart not found")
    await _delete_rows(b, actor, project, rows)


async def _delete_rows(
    b: Backends, actor: Principal, project: ProjectRef, rows: list[asyncpg.Record]
) -> None:
    # The chart_versions rows go with their artifacts (ON DELETE CASCADE).
    await remove_artifacts(b, project, [row["artifact_id"] for row in rows])
    for row in rows:
        resource = f"{repository_of(project, row['name'])}:{row['version']}"
        await b.audit.record(AuditEvent("delete", "chart", resource, actor.name, project.id))
        notify.chart_event(b, DELETE_CHART, project, row["name"], row["version"], actor.name)


# ---------------------------------------------------------------------------- artifact API


CHART_ADDITIONS = ("values.yaml", "readme.md", "dependencies")


def addition_names(kind: str) -> tuple[str, ...]:
    """The additions Harbor offers for an artifact of ``kind``."""
    if kind == "CHART":
        return CHART_ADDITIONS
    if kind == "IMAGE":
        return ("build_history",)
    return ()


async def chart_addition(b: Backends, row: asyncpg.Record, addition: str) -> tuple[str, str]:
    """An addition of a chart artifact, from its chart layer: (content type, body).
    ``values.yaml`` and ``readme.md`` as text, ``dependencies`` as a JSON list."""
    if addition not in CHART_ADDITIONS:
        raise ChartUnknown(f"charts have no addition {addition}")
    manifest = await artifacts.manifest_of(b.db, row["id"])
    layer = next(
        (
            d
            for d in json.loads(manifest or "{}").get("layers", [])
            if d.get("mediaType") in (CHART_LAYER, LEGACY_CHART_LAYER)
        ),
        None,
    )
    if layer is None:
        raise ChartUnknown("the artifact has no chart layer")
    package = await _read_package(b, layer["digest"], int(layer["size"]))
    if addition == "values.yaml":
        return "text/plain; charset=utf-8", package.values
    if addition == "readme.md":
        if package.readme is None:
            raise ChartUnknown("the chart has no README.md")
        return "text/markdown; charset=utf-8", package.readme
    return "application/json", json.dumps(package.dependencies)
