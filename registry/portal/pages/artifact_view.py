"""One artifact's own page: its vulnerabilities (counts by severity and the CVE list of the
latest report), a scan that shows its progress as it runs, signatures and other accessories,
the SBOM to download, the build history, and the pull commands (``helm pull`` for charts)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from registry.portal.endpoint import page, see_other
from registry.portal.errors import PageNotFound, status_of
from registry.portal.forms import signed_form
from registry.portal.pages.artifacts import registry_host, repository_of_path
from registry.portal.security import allowed, backends, project_page, viewer
from registry.portal.templating import PAGE_HEADERS, render
from registry.query import ListQuery
from registry.rbac import Action, ProjectRef
from registry.services import artifact as artifact_service
from registry.services import label as label_service
from registry.services import scan as scan_service
from registry.services import signature
from registry.services.errors import RegistryError

ARTIFACT = "/projects/{project}/repositories/{repository:path}/artifacts/{digest}"
RUNNING = ("Pending", "Running")
LABEL_LIST_SIZE = 100
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


def artifact_url(repository: str, digest: str, notice: str = "") -> str:
    project, _, short = repository.partition("/")
    url = f"/projects/{quote(project)}/repositories/{quote(short)}/artifacts/{digest}"
    return url + ("?notice=" + quote(notice) if notice else "")


async def resolve(request: Request, action: Action) -> tuple[ProjectRef, str, Any]:
    project = await project_page(request, action)
    repository = repository_of_path(request, project)
    row = await artifact_service.artifact_detail(
        backends(request), repository, str(request.path_params["digest"])
    )
    return project, repository, row


async def _labels(request: Request, project: ProjectRef, row: Any) -> dict[str, Any]:
    """The artifact's labels, and the project's and global ones not on it that it may get."""
    b = backends(request)
    on = (await artifact_service.labels_of(b, [row["id"]]))[row["id"]]
    attached = {r["id"] for r in on}
    choices = []
    for group, scope, project_id in (
        ("Project labels", "p", project.id),
        ("Global labels", "g", None),
    ):
        rows, _ = await label_service.list_labels(
            b, scope, project_id, None, ListQuery(page_size=LABEL_LIST_SIZE)
        )
        choices.append((group, [r for r in rows if r["id"] not in attached]))
    return {"labels": on, "label_choices": choices}


async def _scan(request: Request, project: ProjectRef, row: Any) -> dict[str, Any]:
    """The latest vulnerability scan: its status, counts by severity and its findings."""
    found = await scan_service.overviews(backends(request), project, [row["id"]])
    overview = next(iter(found.get(row["id"], {}).values()), None)
    if overview is None:
        return {"status": "", "running": False, "counts": [], "total": 0, "findings": []}
    summary = overview.get("summary") or {}
    counts = summary.get("summary") or {}
    findings: list[Any] = []
    if overview["scan_status"] == "Success":
        reports = await scan_service.vulnerabilities(backends(request), project, row)
        report: dict[str, Any] = next(iter(reports.values()), {})
        findings = sorted(
            report.get("vulnerabilities") or [],
            key=lambda v: (_rank(v.get("severity")), str(v.get("id"))),
        )
    return {
        "status": overview["scan_status"],
        "running": overview["scan_status"] in RUNNING,
        "counts": [(s, counts[s]) for s in SEVERITIES if counts.get(s)],
        "total": summary.get("total", 0),
        "fixable": summary.get("fixable", 0),
        "ended": overview.get("end_time"),
        "findings": findings,
    }


def _rank(severity: Any) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _pull_commands(request: Request, repository: str, row: Any, tags: list[str]) -> list[Any]:
    host = registry_host(request)
    reference = f":{tags[0]}" if tags else f"@{row['digest']}"
    if artifact_service.kind_of(row) == "CHART":
        version = f" --version {tags[0]}" if tags else ""
        return [("helm pull", f"helm pull oci://{host}/{repository}{version}")]
    return [
        ("docker pull", f"docker pull {host}/{repository}{reference}"),
        ("podman pull", f"podman pull {host}/{repository}{reference}"),
    ]


async def _context(request: Request, project: ProjectRef, repository: str, row: Any) -> Any:
    b = backends(request)
    tags = [t["name"] for t in (await artifact_service.tags_of(b, [row["id"]]))[row["id"]]]
    accessories = [
        {
            "digest": r["digest"],
            "type": artifact_service.accessory_type(r["artifact_type"]),
            "size": r["size"],
            "pushed": r["pushed_at"],
        }
        for r in await artifact_service.accessories_of(b, row)
    ]
    history = await artifact_service.build_history(b, row)
    return {
        "project": project,
        "repository": repository,
        "short": repository.split("/", 1)[1],
        "artifact": row,
        "kind": artifact_service.kind_of(row),
        "tags": tags,
        "scannable": scan_service.scannable(row),
        "scan": await _scan(request, project, row),
        "signed": await signature.is_signed(b, project, row),
        "accessories": accessories,
        "has_sbom": await scan_service.sbom_document(b, row) is not None,
        "history": history or [],
        "pulls": _pull_commands(request, repository, row, tags),
        "can": await allowed(request, project),
        "url": artifact_url(repository, row["digest"]),
        **await _labels(request, project, row),
    }


async def show_page(
    request: Request,
    project: ProjectRef,
    repository: str,
    row: Any,
    error: str | RegistryError | None = None,
    status: int = 200,
) -> Response:
    """The artifact's page, with what went wrong on one of its forms (a domain error sets
    the status)."""
    if isinstance(error, RegistryError):
        status, error = status_of(error), error.message
    context = await _context(request, project, repository, row)
    context["error"] = error
    return render(
        request, "artifact.html", context, status=status, title=f"{repository}@{row['digest']}"
    )


@page
async def artifact_page(request: Request) -> Response:
    project, repository, row = await resolve(request, Action.READ_PROJECT)
    return await show_page(request, project, repository, row)


@page
async def scan_panel(request: Request) -> Response:
    """The vulnerability panel alone: htmx swaps it in while a scan runs."""
    project, repository, row = await resolve(request, Action.READ_PROJECT)
    context = await _context(request, project, repository, row)
    return render(request, "artifact/_scan.html", context)


def _scan_handler(scan_type: str, done: str) -> Any:
    @page
    async def start(request: Request) -> Response:
        await signed_form(request)
        project, repository, row = await resolve(request, Action.SCAN)
        try:
            await scan_service.start_scan(
                backends(request),
                await viewer(request),
                project,
                repository,
                row,
                scan_type=scan_type,
            )
        except RegistryError as exc:
            return await show_page(request, project, repository, row, exc)
        return see_other(artifact_url(repository, row["digest"], done))

    return start


start_scan = _scan_handler(scan_service.VULNERABILITY, "Scan started.")
generate_sbom = _scan_handler(scan_service.SBOM, "SBOM generation started.")


@page
async def download_sbom(request: Request) -> Response:
    _, repository, row = await resolve(request, Action.READ_PROJECT)
    document = await scan_service.sbom_document(backends(request), row)
    if document is None:
        raise PageNotFound("This artifact has no SBOM yet.")
    name = repository.replace("/", "_") + "_" + row["digest"].replace(":", "-") + ".spdx.json"
    headers = dict(PAGE_HEADERS)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(json.dumps(document, indent=2), media_type="application/json", headers=headers)
