"""Robot accounts get exactly what their permissions say: in the project named at creation,
with Harbor's meaning of each permission item."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user


def _robot(namespace: str, *access: tuple[str, str], effect: str = "allow") -> dict[str, Any]:
    return {
        "name": "ci",
        "level": "project",
        "duration": -1,
        "permissions": [
            {
                "kind": "project",
                "namespace": namespace,
                "access": [{"resource": r, "action": a, "effect": effect} for r, a in access],
            }
        ],
    }


async def _token(berth: Berth, creds: tuple[str, str], scope: str) -> str:
    async with berth.raw() as raw:
        r = await raw.get(
            "/service/token", params={"service": "berth-registry", "scope": scope}, auth=creds
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])


async def _pull(berth: Berth, creds: tuple[str, str], repository: str) -> int:
    token = await _token(berth, creds, f"repository:{repository}:pull")
    async with berth.raw() as raw:
        r = await raw.get(
            f"/v2/{repository}/manifests/v1", headers={"Authorization": f"Bearer {token}"}
        )
        return r.status_code


async def test_a_namespace_given_as_a_project_id_means_that_project(berth: Berth) -> None:
    # Alice administers "team"; another project's *name* is team's id.
    team_id = await make_project(berth, "team")
    await make_project(berth, str(team_id))
    await make_user(berth, "alice")
    await add_member(berth, "team", "alice", 1)
    async with berth.client() as admin:
        await push_image(admin, "team/app", "v1")
        await push_image(admin, f"{team_id}/app", "v1")
    async with api(berth, ("alice", PASSWORD)) as alice:
        r = await alice.post("/robots", json=_robot(str(team_id), ("repository", "pull")))
        assert r.status_code == 201, r.text
        robot = r.json()
    assert robot["name"] == "robot$team+ci"
    creds = (robot["name"], robot["secret"])
    assert await _pull(berth, creds, "team/app") == 200
    assert await _pull(berth, creds, f"{team_id}/app") == 401
    async with api(berth) as a:
        shown = (await a.get(f"/robots/{robot['id']}")).json()
    assert shown["permissions"][0]["namespace"] == "team"


async def test_deny_permissions_are_refused_with_a_clear_error(berth: Berth) -> None:
    await make_project(berth, "team")
    async with api(berth) as a:
        body = _robot("team", ("repository", "push"), effect="deny")
        body["permissions"][0]["access"].append({"resource": "repository", "action": "pull"})
        r = await a.post("/robots", json=body)
        assert r.status_code == 400, r.text
        error = r.json()["errors"][0]
        assert error["code"] == "BAD_REQUEST"
        assert "deny" in error["message"]
        assert (await a.get("/robots")).json() == []


async def test_tag_create_alone_does_not_allow_a_push(berth: Berth) -> None:
    await make_project(berth, "team")
    async with berth.client() as admin:
        await push_image(admin, "team/app", "v1")
    async with api(berth) as a:
        r = await a.post("/robots", json=_robot("team", ("repository", "pull"), ("tag", "create")))
        assert r.status_code == 201, r.text
        robot = r.json()
    creds = (robot["name"], robot["secret"])
    token = await _token(berth, creds, "repository:team/app:pull,push")
    async with berth.raw() as raw:
        r = await raw.post(
            "/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401
        assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
        # Basic credentials on /v2/ decide by the same rules.
        r = await raw.post("/v2/team/app/blobs/uploads/", auth=creds)
        assert r.status_code == 403
    # What tag:create is for: tagging an artifact through the API.
    async with httpx.AsyncClient(base_url=f"{berth.url}/api/v2.0", auth=creds) as bot:
        r = await bot.post("/projects/team/repositories/app/artifacts/v1/tags", json={"name": "v2"})
        assert r.status_code == 201, r.text
    assert await _pull(berth, creds, "team/app") == 200


async def test_repository_push_allows_a_push(berth: Berth) -> None:
    await make_project(berth, "team")
    async with api(berth) as a:
        r = await a.post(
            "/robots", json=_robot("team", ("repository", "pull"), ("repository", "push"))
        )
        assert r.status_code == 201, r.text
        robot = r.json()
    async with berth.client((robot["name"], robot["secret"])) as bot:
        await push_image(bot, "team/app", "v1")
