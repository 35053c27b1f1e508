"""The portal's static files (stylesheet, scripts), served by Berth with caching headers.

Pages link ``/static/<name>?v=<content hash>``: such a URL never changes meaning, so browsers
and proxies may keep it a year without asking again; a URL without the right hash is cached
only briefly. Every answer carries an ETag, and ``If-None-Match`` gets a 304.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
_FOREVER = "public, max-age=31536000, immutable"
_BRIEFLY = "public, max-age=300"


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    version: str


@functools.cache
def files() -> dict[str, StaticFile]:
    """The files shipped in ``registry/portal/static`` (read once; they are small)."""
    found: dict[str, StaticFile] = {}
    for entry in resources.files("registry.portal").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if not entry.is_file() or suffix not in _TYPES:
            continue
        body = entry.read_bytes()
        version = hashlib.sha256(body).hexdigest()[:16]
        found[entry.name] = StaticFile(body, _TYPES[suffix], version)
    return found


def static_url(name: str) -> str:
    return f"/static/{name}?v={files()[name].version}"


async def serve_static(request: Request) -> Response:
    found = files().get(str(request.path_params["name"]))
    if found is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    etag = f'"{found.version}"'
    headers = {
        "ETag": etag,
        "Cache-Control": _FOREVER if request.query_params.get("v") == found.version else _BRIEFLY,
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
