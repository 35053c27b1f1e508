"""Blobs: GET, HEAD and DELETE."""

from __future__ import annotations

import contextlib
import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from registry.api.distribution.access import authorize, facts_of
from registry.api.distribution.blob_file import BlobFileResponse
from registry.api.distribution.endpoint import oci_endpoint
from registry.api.distribution.mirror import read_name
from registry.metrics.instruments import counted
from registry.oci.digest import Digest
from registry.rbac import Action
from registry.services import blob as blob_service
from registry.services import proxy_cache
from registry.services.blob import BlobInfo
from registry.services.context import Backends
from registry.services.errors import BlobUnknown
from registry.services.proxy_cache import UpstreamBlob

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single satisfiable range, None for the whole blob."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise _UnsatisfiableRangeError
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise _UnsatisfiableRangeError
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise _UnsatisfiableRangeError
    return start, end


class _UnsatisfiableRangeError(Exception):
    pass


@oci_endpoint
async def get_blob(request: Request) -> Response:
    name = await read_name(request)
    project = await authorize(request, name, Action.PULL)
    digest = blob_service.parse_digest(request.path_params["digest"])
    b = request.state.backends
    try:
        info = await blob_service.stat_blob(b, project, digest, facts_of(request, project))
    except BlobUnknown:
        if await proxy_cache.await_fill(b, name, digest):
            with contextlib.suppress(BlobUnknown):
                info = await blob_service.stat_blob(b, project, digest)
                return await _local_blob(request, b, digest, info)
        upstream = await proxy_cache.upstream_blob(
            b, project, name, digest, facts_of(request, project)
        )
        if upstream is None:
            raise
        return await _relayed(request, digest, upstream)
    return await _local_blob(request, b, digest, info)


async def _local_blob(request: Request, b: Backends, digest: Digest, info: BlobInfo) -> Response:
    headers = {
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(info.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    try:
        byte_range = _byte_range(request.headers.get("range"), info.size)
    except _UnsatisfiableRangeError:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{info.size}"})
    if byte_range is None:
        url = await blob_service.redirect_url(b, digest)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers=headers)
    accel = blob_service.nginx_blob_uri(b, digest)
    if accel is not None:
        # nginx serves the file (and the Range, from the original request) itself.
        headers["X-Accel-Redirect"] = accel
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    start, end = byte_range if byte_range is not None else (0, info.size - 1)
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    length = end - start + 1
    file = await blob_service.open_blob_file(b, digest)
    if file is not None:
        return BlobFileResponse(file, start, length, status_code=status, headers=headers)
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        counted(blob_service.read_blob(b, digest, start, length), "download"),
        status_code=status,
        headers=headers,
        media_type="application/octet-stream",
    )


@oci_endpoint
async def delete_blob(request: Request) -> Response:
    name = request.path_params["name"]
    project = await authorize(request, name, Action.DELETE)
    digest = blob_service.parse_digest(request.path_params["digest"])
    await blob_service.unlink_blob(request.state.backends, project, digest)
    return Response(status_code=202, headers={"Content-Length": "0"})


async def _relayed(request: Request, digest: Digest, upstream: UpstreamBlob) -> Response:
    """A proxy project's blob streamed on from upstream while it is being cached."""
    headers = {"Docker-Content-Digest": str(digest), "Content-Length": str(upstream.size)}
    if request.method == "HEAD":
        await upstream.close()
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(
        upstream.chunks(), headers=headers, media_type="application/octet-stream"
    )
