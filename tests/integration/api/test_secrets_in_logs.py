"""Nothing secret reaches the logs: passwords, robot secrets, tokens, LDAP bind passwords."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.test_identity import api, make_project


async def test_no_secret_is_logged(berth: Berth, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [ADMIN_PASSWORD, "WrongPassw0rd", "LdapBindS3cret"]
    await make_project(berth, "logged")
    async with api(berth) as a:
        r = await a.post(
            "/robots",
            json={
                "name": "logbot",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "logged",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        secrets.append(r.json()["secret"])
        await a.put(
            "/configurations",
            json={"ldap_search_password": "LdapBindS3cret", "ldap_url": "ldap://127.0.0.1:1"},
        )
    async with httpx.AsyncClient(base_url=berth.url) as c:
        r = await c.get(
            "/service/token", params={"service": "berth-registry"}, auth=("admin", ADMIN_PASSWORD)
        )
        secrets.append(r.json()["token"])
        await c.get(
            "/service/token", params={"service": "berth-registry"}, auth=("admin", "WrongPassw0rd")
        )
        await c.post(
            "/service/token",
            data={
                "grant_type": "password",
                "username": "admin",
                "password": "WrongPassw0rd",
                "service": "berth-registry",
            },
        )
        await c.get("/v2/", headers={"Authorization": f"Bearer {secrets[-1]}x"})
    async with api(berth) as a:
        await a.put("/configurations", json={"auth_mode": "ldap_auth"})
    async with httpx.AsyncClient(base_url=berth.url) as c:
        # LDAP is unreachable: the failure is logged, without the password tried.
        await c.get(
            "/service/token",
            params={"service": "berth-registry"},
            auth=("someone", "WrongPassw0rd"),
        )
    logged = caplog.text
    assert logged  # the checks below mean something only if something was logged
    for secret in secrets:
        assert secret not in logged
