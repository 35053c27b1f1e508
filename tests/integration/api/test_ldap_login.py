"""LDAP auth mode end to end: configuration through the API, logins through the token service,
onboarding, group-based membership, the group-admin DN, and the /ldap and /usergroups API."""

from __future__ import annotations

from typing import Any

import httpx
import ldap3

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import api, make_project
from tests.integration.ldap_server import LdapServer


def ldap_settings(ldap: LdapServer, **overrides: Any) -> dict[str, Any]:
    config = ldap.config(**overrides)
    values = config.model_dump(mode="python", exclude={"ldap_starttls"})
    values["ldap_search_password"] = ldap.reader_password
    values["ldap_group_membership_attribute"] = config.ldap_group_membership_attribute
    return {k: v for k, v in values.items() if v is not None}


async def use_ldap(berth: Berth, ldap: LdapServer, **overrides: Any) -> None:
    async with api(berth) as a:
        r = await a.put(
            "/configurations", json={"auth_mode": "ldap_auth", **ldap_settings(ldap, **overrides)}
        )
        assert r.status_code == 200, r.text


async def token_status(berth: Berth, username: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=berth.url) as c:
        r = await c.get(
            "/service/token", params={"service": "berth-registry"}, auth=(username, password)
        )
        return r.status_code


async def test_ldap_users_log_in_and_are_onboarded(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    assert await token_status(berth, "alice", ldap_server.password("alice")) == 200
    assert await token_status(berth, "alice", "wrong") == 401
    assert await token_status(berth, "nobody", "whatever") == 401
    # Injection through the user name finds nobody.
    assert await token_status(berth, "*)(uid=*", ldap_server.password("alice")) == 401
    # The local admin still logs in against the database.
    assert await token_status(berth, "admin", ADMIN_PASSWORD) == 200
    async with api(berth) as a:
        users = (await a.get("/users", params={"q": "username=alice"})).json()
        assert users[0]["email"] == "alice@berth.test"
        # LDAP users are not created through the API in LDAP mode.
        r = await a.post(
            "/users", json={"username": "x", "password": "Passw0rdX", "email": "x@y.z"}
        )
        assert r.status_code == 403


async def test_group_membership_grants_project_roles(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    await make_project(berth, "ldapteam")
    async with api(berth) as a:
        r = await a.post(
            "/projects/ldapteam/members",
            json={
                "role_id": 2,
                "member_group": {
                    "ldap_group_dn": ldap_server.group_dn("developers"),
                    "group_type": 1,
                },
            },
        )
        assert r.status_code == 201, r.text
        groups = (await a.get("/usergroups")).json()
        assert [g["ldap_group_dn"] for g in groups] == [ldap_server.group_dn("developers")]
    async with berth.client(("alice", ldap_server.password("alice"))) as alice:
        await push_image(alice, "ldapteam/app", "v1")
    async with berth.client(("carol", ldap_server.password("carol"))) as carol:
        assert (await carol.get("/v2/ldapteam/app/manifests/v1")).status_code == 401


async def test_group_admin_dn_makes_system_admins(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    # bob is in ops, and ops is nested in admins.
    async with api(berth, ("bob", ldap_server.password("bob"))) as bob:
        assert (await bob.get("/configurations")).status_code == 200
    async with api(berth, ("alice", ldap_server.password("alice"))) as alice:
        assert (await alice.get("/configurations")).status_code == 403


async def test_ldap_admin_endpoints(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    async with api(berth) as a:
        r = await a.post("/ldap/ping", json={})
        assert r.json()["success"] is True
        r = await a.post("/ldap/ping", json={"ldap_search_password": "wrong"})
        assert r.json()["success"] is False
        assert "wrong" not in r.text
        r = await a.get("/ldap/users/search", params={"username": "ali"})
        assert [u["username"] for u in r.json()] == ["alice"]
        r = await a.get("/ldap/groups/search", params={"groupname": "developers"})
        assert r.json()[0]["ldap_group_dn"] == ldap_server.group_dn("developers")
        r = await a.post("/ldap/users/import", json={"ldap_uid_list": ["carol"]})
        assert r.status_code == 200
        assert (await a.get("/users", params={"q": "username=carol"})).json()[0][
            "username"
        ] == "carol"
        r = await a.post("/ldap/users/import", json={"ldap_uid_list": ["ghost"]})
        assert r.status_code == 404
        r = await a.post(
            "/usergroups",
            json={
                "group_name": "ops",
                "group_type": 1,
                "ldap_group_dn": ldap_server.group_dn("ops"),
            },
        )
        assert r.status_code == 201
        group_id = r.headers["Location"].rsplit("/", 1)[1]
        assert (
            await a.put(f"/usergroups/{group_id}", json={"group_name": "operators"})
        ).status_code == 200
        assert (await a.get(f"/usergroups/{group_id}")).json()["group_name"] == "operators"
        assert (await a.delete(f"/usergroups/{group_id}")).status_code == 200


async def test_unreachable_ldap_is_not_a_wrong_password(
    berth: Berth, ldap_server: LdapServer
) -> None:
    await use_ldap(berth, ldap_server, ldap_url="ldap://127.0.0.1:1", ldap_timeout=2)
    assert await token_status(berth, "alice", ldap_server.password("alice")) == 503


async def test_a_new_directory_group_membership_counts_on_the_next_request(
    berth: Berth, ldap_server: LdapServer
) -> None:
    await use_ldap(berth, ldap_server)
    await make_project(berth, "ldapnew")
    async with api(berth) as a:
        r = await a.post(
            "/projects/ldapnew/members",
            json={
                "role_id": 3,
                "member_group": {
                    "ldap_group_dn": ldap_server.group_dn("developers"),
                    "group_type": 1,
                },
            },
        )
        assert r.status_code == 201, r.text
    async with berth.client() as admin:
        await push_image(admin, "ldapnew/app", "v1")
    carol = ("carol", ldap_server.password("carol"))
    async with berth.client(carol) as c:
        assert (await c.get("/v2/ldapnew/app/manifests/v1")).status_code == 401
    conn = ldap_server.admin_connection()
    developers = ldap_server.group_dn("developers")
    try:
        conn.modify(developers, {"member": [(ldap3.MODIFY_ADD, [ldap_server.dn("carol")])]})
        async with berth.client(carol) as c:
            assert (await c.get("/v2/ldapnew/app/manifests/v1")).status_code == 200
    finally:
        conn.modify(developers, {"member": [(ldap3.MODIFY_DELETE, [ldap_server.dn("carol")])]})
        conn.unbind()
    async with berth.client(carol) as c:
        assert (await c.get("/v2/ldapnew/app/manifests/v1")).status_code == 401
