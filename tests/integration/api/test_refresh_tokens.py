"""Refresh tokens stop minting access tokens once the credential they came from is gone: a
password reset, a robot's secret refreshed or the robot disabled, the account deleted (and
made again under the same name)."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import Berth
from tests.integration.api.test_identity import (
    PASSWORD,
    api,
    make_project,
    make_pull_robot,
    make_user,
)

SERVICE = "berth-registry"


async def _refresh_token(berth: Berth, username: str, password: str) -> str:
    async with berth.raw() as raw:
        r = await raw.post(
            "/service/token",
            data={
                "grant_type": "password",
                "username": username,
                "password": password,
                "service": SERVICE,
                "access_type": "offline",
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["refresh_token"])


async def _refresh(berth: Berth, token: str) -> httpx.Response:
    async with berth.raw() as raw:
        return await raw.post(
            "/service/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token,
                "service": SERVICE,
                "scope": "repository:library/app:pull",
            },
        )


def _refused(r: httpx.Response) -> bool:
    return r.status_code == 401 and r.json()["error"] == "invalid_grant"


async def test_a_password_reset_revokes_refresh_tokens(berth: Berth) -> None:
    user_id = await make_user(berth, "carol")
    token = await _refresh_token(berth, "carol", PASSWORD)
    r = await _refresh(berth, token)
    assert r.status_code == 200, r.text
    # The refresh grant hands out a new refresh token; it too dies with the password.
    renewed = r.json()["refresh_token"]
    async with api(berth) as a:
        r = await a.put(f"/users/{user_id}/password", json={"new_password": "Another123"})
        assert r.status_code == 200, r.text
    assert _refused(await _refresh(berth, token))
    assert _refused(await _refresh(berth, renewed))
    fresh = await _refresh_token(berth, "carol", "Another123")
    assert (await _refresh(berth, fresh)).status_code == 200


async def test_changing_ones_own_password_revokes_refresh_tokens(berth: Berth) -> None:
    user_id = await make_user(berth, "carol")
    token = await _refresh_token(berth, "carol", PASSWORD)
    async with api(berth, ("carol", PASSWORD)) as carol:
        r = await carol.put(
            f"/users/{user_id}/password",
            json={"old_password": PASSWORD, "new_password": "Another123"},
        )
        assert r.status_code == 200, r.text
    assert _refused(await _refresh(berth, token))


async def test_a_deleted_and_recreated_user_does_not_inherit_refresh_tokens(berth: Berth) -> None:
    user_id = await make_user(berth, "carol")
    token = await _refresh_token(berth, "carol", PASSWORD)
    async with api(berth) as a:
        assert (await a.delete(f"/users/{user_id}")).status_code == 200
    assert _refused(await _refresh(berth, token))
    await make_user(berth, "carol")
    assert _refused(await _refresh(berth, token))


async def test_robot_secret_refresh_and_disable_revoke_refresh_tokens(berth: Berth) -> None:
    await make_project(berth, "team")
    async with api(berth) as a:
        robot = await make_pull_robot(a, "team", "ci")
        token = await _refresh_token(berth, robot["name"], robot["secret"])
        assert (await _refresh(berth, token)).status_code == 200
        r = await a.patch(f"/robots/{robot['id']}", json={})
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert _refused(await _refresh(berth, token))
        token = await _refresh_token(berth, robot["name"], secret)
        assert (await _refresh(berth, token)).status_code == 200
        assert (await a.put(f"/robots/{robot['id']}", json={"disable": True})).status_code == 200
        assert _refused(await _refresh(berth, token))
