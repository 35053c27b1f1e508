"""The /v2/ routing table. Names contain slashes, so the fixed suffixes decide the route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from registry.api.distribution import blobs, listing, manifests, uploads
from registry.api.distribution.endpoint import oci_endpoint
from registry.services.errors import Unsupported

_NAME = "/v2/{name:path}"

routes = [
    Route("/v2/", listing.version_check, methods=["GET"]),
    Route("/v2/_catalog", listing.catalog, methods=["GET"]),
    Route(f"{_NAME}/tags/list", listing.list_tags, methods=["GET"]),
    Route(f"{_NAME}/referrers/{{digest}}", listing.referrers, methods=["GET"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.get_manifest, methods=["GET", "HEAD"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.put_manifest, methods=["PUT"]),
    Route(f"{_NAME}/manifests/{{reference}}", manifests.delete_manifest, methods=["DELETE"]),
    Route(f"{_NAME}/blobs/uploads/", uploads.start_upload, methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads", uploads.start_upload, methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads/{{uuid}}", uploads.patch_upload, methods=["PATCH"]),
    Route(f"{_NAME}/blobs/uploads/{{uuid}}", uploads.finish_upload, methods=["PUT"]),
    Route(f"{_NAME}/blobs/uploads/{{uuid}}", uploads.upload_status, methods=["GET"]),
    Route(f"{_NAME}/blobs/uploads/{{uuid}}", uploads.cancel_upload, methods=["DELETE"]),
    Route(f"{_NAME}/blobs/{{digest}}", blobs.get_blob, methods=["GET", "HEAD"]),
    Route(f"{_NAME}/blobs/{{digest}}", blobs.delete_blob, methods=["DELETE"]),
]


@oci_endpoint
async def unmatched(request: Request) -> Response:
    """OCI-shaped answers for paths and methods no route takes (instead of plain text)."""
    scope = dict(request.scope)
    if any(route.matches(scope)[0] is Match.PARTIAL for route in routes):
        raise Unsupported(f"{request.method} is not supported here")
    return Response(
        '{"errors":[{"code":"NOT_FOUND","message":"no such endpoint","detail":null}]}',
        status_code=404,
        media_type="application/json",
    )


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
routes.append(Route("/v2/{rest:path}", unmatched, methods=ALL_METHODS))
routes.append(Route("/v2", unmatched, methods=ALL_METHODS))
