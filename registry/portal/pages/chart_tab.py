"""What a project's Charts tab shows: the charts of its chart repository with their versions,
and the ``helm repo add`` command that reaches it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from registry.portal.pages.artifacts import registry_host
from registry.portal.security import backends, viewer
from registry.rbac import ProjectRef
from registry.services import chart as chart_service


async def charts_tab(request: Request, project: ProjectRef) -> dict[str, Any]:
    b = backends(request)
    actor = await viewer(request)
    charts = await chart_service.list_charts(b, actor, project)
    versions = {
        c["name"]: await chart_service.chart_versions(b, actor, project, c["name"]) for c in charts
    }
    scheme = request.url.scheme
    external = b.settings.external_url
    if external:
        scheme = str(external).split("://", 1)[0]
    url = f"{scheme}://{registry_host(request)}/chartrepo/{project.name}"
    return {
        "charts": charts,
        "versions": versions,
        "repo_add": f"helm repo add {project.name} {url}",
    }
