"""The chart repository routing table and its handlers.

``/chartrepo/<project>/index.yaml`` and ``/chartrepo/<project>/charts/<file>`` are what Helm
reads after ``helm repo add <name> https://host/chartrepo/<project>``; ``/chartrepo/index.yaml``
merges every project the caller may read. ``/api/chartrepo/<project>/charts`` lists and takes
uploads (the cm-push plugin computes this path from the repository URL), and
``/api/chartrepo/<project>/charts/<name>[/<version>]`` shows and deletes.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from registry.api.chartrepo.endpoint import backends, chart_endpoint, principal_of, project_of
from registry.api.chartrepo.errors import ChartRepoError
from registry.api.chartrepo.upload import read_upload
from registry.services import chart

YAML = "application/x-yaml"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


@chart_endpoint
async def health(request: Request) -> Response:
    return _json({"healthy": True})


@chart_endpoint
async def project_index(request: Request) -> Response:
    project = await project_of(request)
    body = await chart.project_index(backends(request), await principal_of(request), project)
    return Response(body, media_type=YAML)


@chart_endpoint
async def merged_index(request: Request) -> Response:
    body = await chart.merged_index(backends(request), await principal_of(request))
    return Response(body, media_type=YAML)


@chart_endpoint
async def download(request: Request) -> Response:
    filename = str(request.path_params["filename"])
    if not filename.endswith((".tgz", ".tgz.prov")) or "/" in filename:
        raise ChartRepoError(f"no chart file {filename}", 404)
    project = await project_of(request)
    found = await chart.download(backends(request), await principal_of(request), project, filename)
    return StreamingResponse(
        found.chunks,
        media_type=found.media_type,
        headers={"Content-Length": str(found.size)},
    )


@chart_endpoint
async def list_charts(request: Request) -> Response:
    project = await project_of(request)
    listed = await chart.list_charts(backends(request), await principal_of(request), project)
    return _json(listed)


def _force(request: Request) -> bool:
    value = request.query_params.get("force")
    return value is not None and value.lower() not in ("false", "0")


@chart_endpoint
async def upload(request: Request) -> Response:
    b = backends(request)
    project = await project_of(request)
    actor = await principal_of(request)
    body = await read_upload(request, chart.limits(b).max_upload_bytes)
    try:
        assert body.chart is not None
        await chart.upload_chart(
            b, actor, project, body.chart, body.prov, filename=body.filename, force=_force(request)
        )
    finally:
        body.close()
    return _json({"saved": True}, 201)


@chart_endpoint
async def upload_library(request: Request) -> Response:
    """Harbor's ``POST /api/chartrepo/charts``: an upload to the ``library`` project."""
    request.scope.setdefault("path_params", {})["project"] = "library"
    return await upload(request)


@chart_endpoint
async def upload_prov(request: Request) -> Response:
    b = backends(request)
    project = await project_of(request)
    actor = await principal_of(request)
    body = await read_upload(request, chart.limits(b).max_upload_bytes, prov_only=True)
    try:
        assert body.prov is not None
        await chart.upload_provenance(b, actor, project, body.prov)
    finally:
        body.close()
    return _json({"saved": True}, 201)


@chart_endpoint
async def chart_versions(request: Request) -> Response:
    project = await project_of(request)
    versions = await chart.chart_versions(
        backends(request), await principal_of(request), project, str(request.path_params["name"])
    )
    return _json(versions)


@chart_endpoint
async def delete_chart(request: Request) -> Response:
    project = await project_of(request)
    await chart.delete_chart(
        backends(request), await principal_of(request), project, str(request.path_params["name"])
    )
    return _json({"deleted": True})


@chart_endpoint
async def version_detail(request: Request) -> Response:
    project = await project_of(request)
    detail = await chart.version_detail(
        backends(request),
        await principal_of(request),
        project,
        str(request.path_params["name"]),
        str(request.path_params["version"]),
    )
    return _json(detail)


@chart_endpoint
async def delete_version(request: Request) -> Response:
    project = await project_of(request)
    await chart.delete_version(
        backends(request),
        await principal_of(request),
        project,
        str(request.path_params["name"]),
        str(request.path_params["version"]),
    )
    return _json({"deleted": True})


_API = "/api/chartrepo/{project}"

routes = [
    Route("/api/chartrepo/health", health, methods=["GET"]),
    Route("/chartrepo/index.yaml", merged_index, methods=["GET"]),
    Route("/chartrepo/{project}/index.yaml", project_index, methods=["GET"]),
    Route("/chartrepo/{project}/charts/{filename}", download, methods=["GET"]),
    Route("/api/chartrepo/charts", upload_library, methods=["POST"]),
    Route(f"{_API}/charts", list_charts, methods=["GET"]),
    Route(f"{_API}/charts", upload, methods=["POST"]),
    Route(f"{_API}/prov", upload_prov, methods=["POST"]),
    Route(f"{_API}/charts/{{name}}", chart_versions, methods=["GET"]),
    Route(f"{_API}/charts/{{name}}", delete_chart, methods=["DELETE"]),
    Route(f"{_API}/charts/{{name}}/{{version}}", version_detail, methods=["GET"]),
    Route(f"{_API}/charts/{{name}}/{{version}}", delete_version, methods=["DELETE"]),
]
