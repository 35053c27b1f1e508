"""Cross-repository mounts and the caller's rights on the source repository: a token that
does not cover the source gets a challenge naming both scopes (so the client can come back with
one that mounts); a caller who may not pull from the source gets an ordinary upload."""

from __future__ import annotations

import os

import httpx

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import push_blob
from tests.integration.api.test_identity import PASSWORD, add_member, make_project, make_user
from tests.integration.api.tokens import challenge_params

SERVICE = "berth-registry"


async def _token(berth: Berth, creds: tuple[str, str], *scopes: str) -> str:
    async with berth.raw() as raw:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("service", SERVICE),
            *(("scope", s) for s in scopes),
        ]
        r = await raw.get("/service/token", params=params, auth=creds)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


async def _mount(berth: Berth, digest: str, **auth: object) -> httpx.Response:
    async with berth.raw() as raw:
        return await raw.post(
            "/v2/dst/app/blobs/uploads/",
            params={"mount": digest, "from": "src/app"},
            **auth,  # type: ignore[arg-type]
        )


async def _seed(berth: Berth) -> str:
    await make_project(berth, "src")
    await make_project(berth, "dst")
    await make_user(berth, "dev")
    await add_member(berth, "dst", "dev", 2)
    async with berth.client() as admin:
        return await push_blob(admin, "src/app", os.urandom(2048))


async def test_a_token_without_the_source_scope_is_challenged_for_both(berth: Berth) -> None:
    digest = await _seed(berth)
    await add_member(berth, "src", "dev", 3)
    creds = ("dev", PASSWORD)
    token = await _token(berth, creds, "repository:dst/app:pull,push")
    r = await _mount(berth, digest, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    challenge = challenge_params(r.headers["WWW-Authenticate"])
    assert challenge["scope"] == "repository:dst/app:pull,push repository:src/app:pull"
    assert challenge["error"] == "insufficient_scope"
    # The client asks for what the challenge names, and the mount happens.
    token = await _token(berth, creds, *challenge["scope"].split(" "))
    r = await _mount(berth, digest, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == digest


async def test_no_pull_on_the_source_falls_back_to_an_upload(berth: Berth) -> None:
    digest = await _seed(berth)
    creds = ("dev", PASSWORD)
    # Asked for the source and refused it: a normal upload, not another challenge.
    token = await _token(berth, creds, "repository:dst/app:pull,push", "repository:src/app:pull")
    r = await _mount(berth, digest, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text
    assert "/v2/dst/app/blobs/uploads/" in r.headers["Location"]
    # Basic credentials: the same fallback, not a 403.
    r = await _mount(berth, digest, auth=creds)
    assert r.status_code == 202, r.text
    await add_member(berth, "src", "dev", 3)
    r = await _mount(berth, digest, auth=creds)
    assert r.status_code == 201, r.text
