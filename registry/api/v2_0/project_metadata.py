"""/projects/{p}/metadatas: a project's settings one key at a time, and /projects/{p}/artifacts:
the artifacts of every repository of a project."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.v2_0.artifacts import _to_json as artifacts_json
from registry.api.v2_0.endpoint import harbor_endpoint, json_response, read_object
from registry.api.v2_0.listing import list_headers, list_query
from registry.api.v2_0.security import backends, principal_of, project_for
from registry.rbac import Action
from registry.services import artifact as artifact_service
from registry.services import project_metadata


@harbor_endpoint
async def list_metadata(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    return json_response(await project_metadata.list_metadata(backends(request), project))


@harbor_endpoint
async def add_metadata(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    actor = await principal_of(request)
    await project_metadata.add_entry(backends(request), actor, project, body)
    return Response(status_code=200)


@harbor_endpoint
async def get_metadata(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    name = request.path_params["meta_name"]
    return json_response(await project_metadata.get_entry(backends(request), project, name))


@harbor_endpoint
async def update_metadata(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    body = await read_object(request)
    actor = await principal_of(request)
    name = request.path_params["meta_name"]
    await project_metadata.update_entry(backends(request), actor, project, name, body)
    return Response(status_code=200)


@harbor_endpoint
async def delete_metadata(request: Request) -> Response:
    project = await project_for(request, Action.MANAGE_PROJECT)
    actor = await principal_of(request)
    name = request.path_params["meta_name"]
    await project_metadata.delete_entry(backends(request), actor, project, name)
    return Response(status_code=200)


@harbor_endpoint
async def list_project_artifacts(request: Request) -> Response:
    project = await project_for(request, Action.READ_PROJECT)
    query = list_query(request)
    latest = request.query_params.get("latest_in_repository", "").lower() == "true"
    b = backends(request)
    rows, total = await artifact_service.list_project_artifacts(b, project, query, latest)
    # Rendered repository by repository (immutability is judged per repository), in order.
    rendered: dict[int, dict[str, Any]] = {}
    for repository in dict.fromkeys(r["repository_name"] for r in rows):
        group = [r for r in rows if r["repository_name"] == repository]
        bodies = await artifacts_json(request, group, project, repository)
        rendered.update((row["id"], one) for row, one in zip(group, bodies, strict=True))
    return json_response(
        [rendered[r["id"]] for r in rows], headers=list_headers(request, query, total)
    )


_P = "/api/v2.0/projects/{project_name_or_id}"
routes = [
    # Harbor's paths end in a slash; clients (harborapi among them) also send them without.
    *(
        Route(path, handler, methods=[method])
        for path in (f"{_P}/metadatas/", f"{_P}/metadatas")
        for handler, method in ((list_metadata, "GET"), (add_metadata, "POST"))
    ),
    Route(f"{_P}/metadatas/{{meta_name}}", get_metadata, methods=["GET"]),
    Route(f"{_P}/metadatas/{{meta_name}}", update_metadata, methods=["PUT"]),
    Route(f"{_P}/metadatas/{{meta_name}}", delete_metadata, methods=["DELETE"]),
    Route(f"{_P}/artifacts", list_project_artifacts, methods=["GET"]),
]
