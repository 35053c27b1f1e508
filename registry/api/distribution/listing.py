"""tags/list, _catalog and the referrers API."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from registry.api.distribution.access import (
    Challenge,
    authorize,
    caller_of,
    catalog_reader,
    facts_of,
    may_list_catalog,
)
from registry.api.distribution.endpoint import oci_endpoint
from registry.api.distribution.errors import Denied
from registry.api.distribution.mirror import read_name
from registry.oci import mediatypes
from registry.rbac import Action
from registry.services import blob as blob_service
from registry.services import manifest as manifest_service
from registry.services import proxy_cache, repository_visibility
from registry.services.errors import PaginationInvalid

# Without ?n= a page holds at most this many entries; larger n are clamped to it.
MAX_PAGE = 10_000


def _page(request: Request) -> tuple[int, str | None]:
    text = request.query_params.get("n")
    if text is None or text == "":
        limit = MAX_PAGE
    elif text.isascii() and text.isdigit():
        limit = min(int(text), MAX_PAGE)
    else:
        raise PaginationInvalid("n must be a non-negative integer", {"n": text})
    last = request.query_params.get("last") or None
    if last is not None and "\x00" in last:
        # No name holds one, and PostgreSQL refuses it in a query.
        raise PaginationInvalid("last must not contain a NUL character", {"last": last})
    return limit, last


def _json(body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), media_type="application/json", headers=headers)


def _next_link(path: str, limit: int, last: str) -> dict[str, str]:
    return {"Link": f'<{path}?{urlencode({"n": limit, "last": last})}>; rel="next"'}


@oci_endpoint
async def list_tags(request: Request) -> Response:
    requested = request.path_params["name"]
    name = await read_name(request)
    project = await authorize(request, name, Action.PULL)
    limit, last = _page(request)
    b = request.state.backends
    names = await proxy_cache.list_tags(
        b, project, name, last, limit + 1, facts_of(request, project)
    )
    if names is None:
        names = await manifest_service.list_tags(b, name, last, limit + 1)
    headers = {}
    if len(names) > limit:
        names = names[:limit]
        headers = _next_link(request.url.path, limit, names[-1])
    # The name the client asked for, also when the mirror's proxy project answered.
    return _json({"name": requested, "tags": names}, headers)


@oci_endpoint
async def catalog(request: Request) -> Response:
    if not await may_list_catalog(request):
        if (await caller_of(request)).principal is not None:
            raise Denied()
        raise Challenge("insufficient scope", "registry:catalog:*", "insufficient_scope")
    limit, last = _page(request)
    reader = await catalog_reader(request)
    names = (
        []
        if reader is None
        else await repository_visibility.catalog(request.state.backends, reader, last, limit + 1)
    )
    headers = {}
    if len(names) > limit:
        names = names[:limit]
        headers = _next_link(request.url.path, limit, names[-1])
    return _json({"repositories": names}, headers)


@oci_endpoint
async def referrers(request: Request) -> Response:
    name = request.path_params["name"]
    await authorize(request, name, Action.PULL)
    subject = blob_service.parse_digest(request.path_params["digest"])
    artifact_type = request.query_params.get("artifactType") or None
    index = await manifest_service.referrers(request.state.backends, name, subject, artifact_type)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return Response(json.dumps(index), media_type=mediatypes.OCI_INDEX, headers=headers)


@oci_endpoint
async def version_check(request: Request) -> Response:
    """GET /v2/: 200 with any valid token (even one granting nothing), else a challenge."""
    await caller_of(request)
    return _json({})
