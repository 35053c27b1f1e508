"""Names, projects and who may do what on /v2/, through Bearer tokens."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.oci import error_code, push_blob, push_image
from tests.integration.api.tokens import challenge_params


def scope_of(response: httpx.Response) -> str:
    return challenge_params(response.headers["WWW-Authenticate"])["scope"]


async def test_version_check_challenges_callers_without_a_token(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.get("/v2/")
        assert r.status_code == 401
        params = challenge_params(r.headers["WWW-Authenticate"])
        assert params["realm"] == f"{berth.url}/service/token"
        assert params["service"] == "berth-registry"
        assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert error_code(r) == "UNAUTHORIZED"
        # Like Harbor, Basic credentials also work on /v2/ (scripts, curl, oras-py).
        r = await raw.get("/v2/", auth=("admin", ADMIN_PASSWORD))
        assert r.status_code == 200
        r = await raw.get("/v2/library/x/tags/list", auth=("admin", "wrong"))
        assert r.status_code == 401
    async with berth.client() as c:
        assert (await c.get("/v2/")).status_code == 200
    async with berth.client(auth=None) as anon:
        # An anonymous token grants nothing, but it is a valid token.
        assert (await anon.get("/v2/")).status_code == 200


async def test_challenge_names_the_scope_to_ask_for(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.get("/v2/library/app/manifests/v1")
        assert scope_of(r) == "repository:library/app:pull"
        r = await raw.post("/v2/library/app/blobs/uploads/")
        assert scope_of(r) == "repository:library/app:pull,push"
        r = await raw.delete(f"/v2/library/app/manifests/sha256:{'0' * 64}")
        assert scope_of(r) == "repository:library/app:delete"
        r = await raw.get("/v2/_catalog")
        assert scope_of(r) == "registry:catalog:*"


async def test_anonymous_may_pull_public_but_not_push(berth: Berth) -> None:
    async with berth.client() as c:
        digest, manifest = await push_image(c, "library/app", "v1")
    async with berth.client(auth=None) as anon:
        r = await anon.get("/v2/library/app/manifests/v1")
        assert r.status_code == 200
        assert r.content == manifest
        r = await anon.post("/v2/library/app/blobs/uploads/")
        assert r.status_code == 401
        assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        r = await anon.delete(f"/v2/library/app/manifests/{digest}")
        assert r.status_code == 401


async def test_private_project_is_invisible_to_anonymous(berth: Berth) -> None:
    await create_project(berth, "secret")
    async with berth.client() as c:
        await push_image(c, "secret/app", "v1")
    async with berth.client(auth=None) as anon:
        # Same answer for a private project and one that does not exist: no probing names.
        for repo in ("secret/app", "nosuchproject/app"):
            r = await anon.get(f"/v2/{repo}/manifests/v1")
            assert r.status_code == 401


async def test_invalid_names(berth: Berth) -> None:
    async with berth.client() as c:
        for name in (
            "library/UPPER",
            "library//x",
            "library/x/",
            "justone",
            "library/-x",
            "library/a..b",
        ):
            r = await c.post(f"/v2/{name}/blobs/uploads/")
            assert r.status_code in (400, 404), name
            if r.status_code == 400:
                assert error_code(r) == "NAME_INVALID", name
        r = await c.get("/v2/library/../x/tags/list")
        assert r.status_code in (400, 404)
        r = await c.get("/v2/library/%2e%2e/x/tags/list")
        assert r.status_code in (400, 404)
        assert error_code(r) in ("NAME_INVALID", "NAME_UNKNOWN", "NOT_FOUND")


async def test_push_into_missing_project_is_refused(berth: Berth) -> None:
    async with berth.client() as c:
        r = await c.post("/v2/nosuch/app/blobs/uploads/")
        assert r.status_code == 404
        assert error_code(r) == "NAME_UNKNOWN"


async def test_nested_repository_names(berth: Berth) -> None:
    async with berth.client() as c:
        digest, _ = await push_image(c, "library/a/b/c", "v1")
        r = await c.get("/v2/library/a/b/c/manifests/v1")
        assert r.headers["Docker-Content-Digest"] == digest
        blob = await push_blob(c, "library/a/b/c", b"nested")
        assert (await c.get(f"/v2/library/a/b/c/blobs/{blob}")).content == b"nested"


async def test_unknown_endpoints_and_methods_answer_in_oci_format(berth: Berth) -> None:
    async with berth.client() as c:
        r = await c.get("/v2/library/app/nonsense")
        assert r.status_code == 404
        assert r.json()["errors"]
        r = await c.post("/v2/library/app/manifests/v1")
        assert r.status_code == 405
        assert error_code(r) == "UNSUPPORTED"


async def test_realm_follows_a_trusted_proxy(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.get(
            "/v2/",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example"},
        )
    assert challenge_params(r.headers["WWW-Authenticate"])["realm"] == (
        "https://registry.example/service/token"
    )


async def test_realm_and_redirects_ignore_host_headers_from_untrusted_peers(berth: Berth) -> None:
    # 127.0.0.2 is not among the trusted proxies (127.0.0.1, ::1): its Host and
    # X-Forwarded-Host are its own word.
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    bound = berth.url.removeprefix("http://")
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=berth.url, transport=transport) as untrusted:
        r = await untrusted.get("/v2/", headers=forged)
        assert r.status_code == 401
        realm = challenge_params(r.headers["WWW-Authenticate"])["realm"]
        assert realm == f"http://{bound}/service/token"
        r = await untrusted.get("/c/login/", headers=forged)
        assert r.status_code == 307
        assert r.headers["Location"] == f"http://{bound}/c/login"
        r = await untrusted.get(
            "/v2/", headers={**forged, "X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "https"}
        )
        assert challenge_params(r.headers["WWW-Authenticate"])["realm"] == (
            f"http://{bound}/service/token"
        )
    # A trusted proxy still names the host.
    async with berth.raw() as raw:
        r = await raw.get(
            "/v2/", headers={"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Host": "registry.example"}
        )
    assert challenge_params(r.headers["WWW-Authenticate"])["realm"] == (
        "http://registry.example/service/token"
    )
