"""What one server caches for the pull path is never served after another server changed it:
two Berth apps on one database and one Redis, every change made through the first and read
through the second at once, after the second has read (and cached) the old state."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from registry.app import create_app
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.oci import OCI_MANIFEST, digest_of, push_blob, push_image
from tests.integration.api.tokens import TokenAuth

ACCEPT = {"Accept": OCI_MANIFEST}
ADMIN = ("admin", ADMIN_PASSWORD)


@dataclass
class Replica:
    url: str
    app: Starlette

    def client(self, auth: tuple[str, str] | None = ADMIN) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, auth=TokenAuth(auth), timeout=60)

    def basic(self, auth: tuple[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, auth=auth, timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def second_server(berth_server: Berth) -> AsyncIterator[Replica]:
    """Another app with its own caches on the same database, Redis and blob store."""
    app = create_app(berth_server.settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Replica(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def second(berth: Berth, second_server: Replica) -> Replica:
    # The database was just wiped under it: forget the accounts it knew, as a restart would.
    second_server.app.state.backends.identity.forget_all()
    second_server.app.state.backends.config.invalidate()
    return second_server


async def _get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return await client.get(path, headers=ACCEPT)


async def _cached(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET twice, so the second answer came from the cache; both must agree."""
    first, again = await _get(client, path), await _get(client, path)
    assert (first.status_code, first.content) == (again.status_code, again.content)
    return again


async def test_a_tag_moved_elsewhere_is_read_moved(berth: Berth, second: Replica) -> None:
    async with berth.client() as a, second.client() as b:
        old, _ = await push_image(a, "library/app", "v1", seed="old")
        r = await _cached(b, "/v2/library/app/manifests/v1")
        assert r.headers["Docker-Content-Digest"] == old
        new, content = await push_image(a, "library/app", "v1", seed="new")
        r = await _get(b, "/v2/library/app/manifests/v1")
        assert r.status_code == 200
        assert (r.headers["Docker-Content-Digest"], r.content) == (new, content)
        r = await b.head("/v2/library/app/manifests/v1", headers=ACCEPT)
        assert r.headers["Docker-Content-Digest"] == new
        # The old artifact is still there by digest.
        r = await _get(b, f"/v2/library/app/manifests/{old}")
        assert r.status_code == 200


async def test_a_tag_deleted_elsewhere_is_gone(berth: Berth, second: Replica) -> None:
    async with berth.client() as a, second.client() as b:
        digest, _ = await push_image(a, "library/app", "v1")
        await push_image(a, "library/app", "v2")
        assert (await _cached(b, "/v2/library/app/manifests/v1")).status_code == 200
        assert (await _cached(b, "/v2/library/app/manifests/v2")).status_code == 200
        r = await a.delete("/v2/library/app/manifests/v1")
        assert r.status_code == 202
        assert (await _get(b, "/v2/library/app/manifests/v1")).status_code == 404
        # Through the management API as well.
        r = await a.delete(
            f"/api/v2.0/projects/library/repositories/app/artifacts/{digest}/tags/v2",
            auth=ADMIN,
        )
        assert r.status_code == 200, r.text
        assert (await _get(b, "/v2/library/app/manifests/v2")).status_code == 404
        assert (await _get(b, f"/v2/library/app/manifests/{digest}")).status_code == 200


async def test_a_manifest_deleted_elsewhere_is_gone(berth: Berth, second: Replica) -> None:
    async with berth.client() as a, second.client() as b:
        digest, _ = await push_image(a, "library/app", "v1")
        assert (await _cached(b, f"/v2/library/app/manifests/{digest}")).status_code == 200
        assert (await _cached(b, "/v2/library/app/manifests/v1")).status_code == 200
        r = await a.delete(f"/v2/library/app/manifests/{digest}")
        assert r.status_code == 202
        assert (await _get(b, f"/v2/library/app/manifests/{digest}")).status_code == 404
        r = await b.head(f"/v2/library/app/manifests/{digest}", headers=ACCEPT)
        assert r.status_code == 404
        assert (await _get(b, "/v2/library/app/manifests/v1")).status_code == 404


async def test_a_repository_deleted_elsewhere_is_gone(berth: Berth, second: Replica) -> None:
    async with berth.client() as a, second.client() as b:
        digest, _ = await push_image(a, "library/app", "v1")
        assert (await _cached(b, "/v2/library/app/manifests/v1")).status_code == 200
        r = await a.delete("/api/v2.0/projects/library/repositories/app", auth=ADMIN)
        assert r.status_code == 200, r.text
        assert (await _get(b, "/v2/library/app/manifests/v1")).status_code == 404
        assert (await _get(b, f"/v2/library/app/manifests/{digest}")).status_code == 404


async def test_a_blob_unlinked_elsewhere_is_unknown(berth: Berth, second: Replica) -> None:
    async with berth.client() as a, second.client() as b:
        digest = await push_blob(a, "library/app", b"lonely blob")
        r = await b.head(f"/v2/library/app/blobs/{digest}")
        r = await b.head(f"/v2/library/app/blobs/{digest}")
        assert (r.status_code, r.headers["Content-Length"]) == (200, str(len(b"lonely blob")))
        assert (await a.delete(f"/v2/library/app/blobs/{digest}")).status_code == 202
        assert (await b.head(f"/v2/library/app/blobs/{digest}")).status_code == 404


async def test_a_blob_known_in_one_project_is_unknown_in_another(
    berth: Berth, second: Replica
) -> None:
    await create_project(berth, "other")
    async with berth.client() as a, second.client() as b:
        digest = await push_blob(a, "library/app", b"only in library")
        assert (await b.head(f"/v2/library/app/blobs/{digest}")).status_code == 200
        assert (await b.head(f"/v2/other/app/blobs/{digest}")).status_code == 404
        assert digest == digest_of(b"only in library")


async def test_a_project_made_private_elsewhere_refuses_outsiders(
    berth: Berth, second: Replica
) -> None:
    await create_project(berth, "open", public=True)
    async with berth.client() as a:
        r = await a.post(
            "/api/v2.0/users",
            auth=ADMIN,
            json={
                "username": "outsider",
                "email": "outsider@example.com",
                "realname": "Outsider",
                "password": "Outsider12345",
            },
        )
        assert r.status_code == 201, r.text
        await push_image(a, "open/app", "v1")
    path = "/v2/open/app/manifests/v1"
    async with second.client(None) as anonymous, second.basic(("outsider", "Outsider12345")) as b:
        assert (await _cached(anonymous, path)).status_code == 200
        assert (await _cached(b, path)).status_code == 200
        async with berth.raw() as a:
            r = await a.put(
                "/api/v2.0/projects/open", auth=ADMIN, json={"metadata": {"public": "false"}}
            )
            assert r.status_code == 200, r.text
        # The anonymous token issued while the project was public is refused now, and a new
        # one grants nothing.
        assert (await _get(anonymous, path)).status_code == 401
        assert (await _get(b, path)).status_code in (401, 403)
