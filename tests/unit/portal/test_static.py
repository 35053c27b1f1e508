from __future__ import annotations

import hashlib

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from registry.portal.static import files, serve_static, static_url


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/static/{name}", serve_static)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")


async def test_the_vendored_htmx_is_served_and_cached_for_a_year_by_its_versioned_url() -> None:
    url = static_url("htmx.min.js")
    async with _client() as client:
        answer = await client.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/javascript")
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert b"htmx" in answer.content
        again = await client.get(url, headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304


async def test_an_unversioned_url_is_cached_briefly_and_unknown_files_are_404() -> None:
    async with _client() as client:
        brief = await client.get("/static/berth.css")
        assert brief.headers["cache-control"] == "public, max-age=300"
        assert (await client.get("/static/nothing.js")).status_code == 404
        assert (await client.get("/static/..%2Fsecurity.py")).status_code == 404


def test_every_page_asset_is_shipped() -> None:
    assert {"htmx.min.js", "htmx.LICENSE.txt", "berth.css", "berth.js"} <= set(files())


def test_the_vendored_htmx_is_the_pinned_release() -> None:
    """htmx.org 2.0.11 from the npm registry, unmodified (``npm pack htmx.org@2.0.11``)."""
    shipped = files()["htmx.min.js"].body
    assert b'version:"2.0.11"' in shipped
    assert hashlib.sha256(shipped).hexdigest() == (
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    )
