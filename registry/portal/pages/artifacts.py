"""A repository's artifacts: digests, tags, sizes, times, types, platforms, labels and the
commands that pull them; adding and removing tags, deleting, copying to another project."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from registry.oci.names import is_valid_repository, project_of
from registry.portal.endpoint import page, see_other
from registry.portal.errors import PageError, PageNotFound, status_of
from registry.portal.forms import signed_form
from registry.portal.security import allowed, backends, project_page, require, viewer
from registry.portal.templating import render
from registry.query import ListQuery, SortKey
from registry.rbac import Action, ProjectRef
from registry.services import artifact as artifact_service
from registry.services import repository as repository_service
from registry.services.errors import RegistryError
from registry.services.project import find_project

LIST_SIZE = 50


def repository_of_path(request: Request, project: ProjectRef) -> str:
    """The repository the path names in the project, or a 404 page."""
    short = str(request.path_params["repository"]).strip("/")
    name = f"{project.name}/{short}"
    if not short or not is_valid_repository(name):
        raise PageNotFound(f"There is no repository {name}.")
    return name


def _repository_url(repository: str, notice: str = "") -> str:
    project, _, short = repository.partition("/")
    url = f"/projects/{quote(project)}/repositories/{quote(short)}"
    return url + ("?notice=" + quote(notice) if notice else "")


def registry_host(request: Request) -> str:
    """The host clients pull from: the configured external URL's, else the one the browser
    used to reach this page."""
    external = backends(request).settings.external_url
    if external:
        return urlsplit(str(external)).netloc or request.url.netloc
    return request.url.netloc


def _platform(raw: Any) -> str:
    if not isinstance(raw, dict):
        return ""
    parts = [str(raw.get("os", "")), str(raw.get("architecture", ""))]
    if raw.get("variant"):
        parts.append(str(raw["variant"]))
    return "/".join(p for p in parts if p)


async def _artifacts(request: Request, repository: str) -> list[dict[str, Any]]:
    b = backends(request)
    query = ListQuery({}, (SortKey("push_time", True),), 1, LIST_SIZE)
    rows, _ = await artifact_service.list_artifacts(b, repository, query)
    ids = [r["id"] for r in rows]
    tags = await artifact_service.tags_of(b, ids)
    children = await artifact_service.children_of(b, ids)
    labels = await artifact_service.labels_of(b, ids)
    host = registry_host(request)
    # An index's platform images show as its platforms, not as artifacts of their own (unless
    # tagged by themselves), as Harbor's portal lists them.
    in_index = {c["child_digest"] for r in rows for c in children[r["id"]]}
    found = []
    for row in rows:
        tag_names = [t["name"] for t in tags[row["id"]]]
        if row["digest"] in in_index and not tag_names:
            continue
        reference = f":{tag_names[0]}" if tag_names else f"@{row['digest']}"
        attrs = await artifact_service.extra_attrs(b, row)
        platforms = [_platform(c["platform"]) for c in children[row["id"]]]
        kind = artifact_service.kind_of(row)
        if platforms:
            kind = "INDEX"
        found.append(
            {
                "digest": row["digest"],
                "tags": tag_names,
                "size": row["size"],
                "pushed": row["pushed_at"],
                "pulled": row["pulled_at"],
                "type": kind,
                "media_type": row["media_type"],
                "platform": _platform(attrs),
                "platforms": [p for p in platforms if p],
                "labels": [label["name"] for label in labels[row["id"]]],
                "docker_pull": f"docker pull {host}/{repository}{reference}",
                "podman_pull": f"podman pull {host}/{repository}{reference}",
            }
        )
    return found


async def _repository_page(
    request: Request,
    project: ProjectRef,
    repository: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    row = await repository_service.get_repository(backends(request), repository)
    return render(
        request,
        "repository.html",
        {
            "project": project,
            "repository": repository,
            "short": repository.split("/", 1)[1],
            "description": row["description"] or "",
            "artifacts": await _artifacts(request, repository),
            "can": await allowed(request, project),
            "error": error,
        },
        status=status,
        title=repository,
    )


@page
async def repository_page(request: Request) -> Response:
    project = await project_page(request)
    return await _repository_page(request, project, repository_of_path(request, project))


async def _artifact(request: Request, action: Action) -> tuple[ProjectRef, str, Any]:
    project = await project_page(request, action)
    repository = repository_of_path(request, project)
    row = await artifact_service.artifact_detail(
        backends(request), repository, str(request.path_params["digest"])
    )
    return project, repository, row


@page
async def add_tag(request: Request) -> Response:
    form = await signed_form(request)
    project, repository, row = await _artifact(request, Action.CREATE_TAG)
    name = form.get("tag")
    try:
        await artifact_service.create_tag(
            backends(request), await viewer(request), project, repository, row["id"], name
        )
    except RegistryError as exc:
        return await _repository_page(
            request, project, repository, error=exc.message, status=status_of(exc)
        )
    return see_other(_repository_url(repository, f"Tag {name} added."))


@page
async def remove_tag(request: Request) -> Response:
    await signed_form(request)
    project, repository, _ = await _artifact(request, Action.DELETE_TAG)
    name = str(request.path_params["tag"])
    try:
        await artifact_service.delete_tag(
            backends(request), await viewer(request), project, repository, name
        )
    except RegistryError as exc:
        return await _repository_page(
            request, project, repository, error=exc.message, status=status_of(exc)
        )
    return see_other(_repository_url(repository, f"Tag {name} removed."))


@page
async def delete_artifact(request: Request) -> Response:
    await signed_form(request)
    project, repository, row = await _artifact(request, Action.DELETE_ARTIFACT)
    try:
        await artifact_service.delete_artifact(
            backends(request), await viewer(request), project, repository, row["id"]
        )
    except RegistryError as exc:
        return await _repository_page(
            request, project, repository, error=exc.message, status=status_of(exc)
        )
    return see_other(_repository_url(repository, f"Artifact {row['digest']} deleted."))


@page
async def copy_artifact(request: Request) -> Response:
    form = await signed_form(request)
    source_project, repository, row = await _artifact(request, Action.PULL)
    target_name = form.get("target").strip("/")
    try:
        if not is_valid_repository(target_name) or "/" not in target_name:
            raise PageError("Copy to a repository named project/repository.")
        target = await find_project(backends(request).db, project_of(target_name), by_name=True)
        if target is None:
            raise PageError(f"There is no project {project_of(target_name)}.")
        await require(request, target, Action.PUSH)
        # By tag when there is one, so the copy keeps it (a copy by digest comes untagged).
        tags = (await artifact_service.tags_of(backends(request), [row["id"]]))[row["id"]]
        reference = tags[0]["name"] if tags else row["digest"]
        await artifact_service.copy_artifact(
            backends(request),
            await viewer(request),
            artifact_service.CopySource(source_project, repository, reference),
            target,
            target_name,
        )
    except (RegistryError, PageError) as exc:
        status = exc.status if isinstance(exc, PageError) else status_of(exc)
        return await _repository_page(
            request, source_project, repository, error=exc.message, status=status
        )
    return see_other(_repository_url(repository, f"Copied to {target_name}."))


@page
async def delete_repository(request: Request) -> Response:
    await signed_form(request)
    project = await project_page(request, Action.DELETE)
    repository = repository_of_path(request, project)
    row = await repository_service.get_repository(backends(request), repository)
    await repository_service.delete_repository(
        backends(request), await viewer(request), project, row
    )
    return see_other(
        f"/projects/{quote(project.name)}/repositories?notice="
        + quote(f"Repository {repository} deleted.")
    )
