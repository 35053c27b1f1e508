"""Users, projects, members and roles, robots and the audit log, as Harbor clients use them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.oci import push_image

PASSWORD = "Passw0rdX"


def api(
    berth: Berth, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)
) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{berth.url}/api/v2.0", auth=auth, timeout=30)


async def make_user(berth: Berth, name: str) -> int:
    async with api(berth) as a:
        r = await a.post(
            "/users",
            json={
                "username": name,
                "email": f"{name}@example.test",
                "realname": name.title(),
                "password": PASSWORD,
                "comment": "",
            },
        )
        assert r.status_code == 201, r.text
        return int(r.headers["Location"].rsplit("/", 1)[1])


async def make_pull_robot(a: httpx.AsyncClient, project: str, name: str) -> dict[str, Any]:
    """A project robot that may pull from ``project``; its creation answer (name, secret …)."""
    r = await a.post(
        "/robots",
        json={
            "name": name,
            "level": "project",
            "duration": -1,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": project,
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    robot: dict[str, Any] = r.json()
    return robot


async def make_project(berth: Berth, name: str, public: bool = False) -> int:
    async with api(berth) as a:
        r = await a.post(
            "/projects", json={"project_name": name, "metadata": {"public": str(public).lower()}}
        )
        assert r.status_code == 201, r.text
        return int(r.headers["Location"].rsplit("/", 1)[1])


async def add_member(berth: Berth, project: str, username: str, role: int) -> None:
    async with api(berth) as a:
        r = await a.post(
            f"/projects/{project}/members",
            json={"role_id": role, "member_user": {"username": username}},
        )
        assert r.status_code == 201, r.text


async def test_users_crud_and_password_rules(berth: Berth) -> None:
    user_id = await make_user(berth, "alice")
    async with api(berth) as a:
        r = await a.post("/users", json={"username": "weak", "password": "short", "email": "w@x.y"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["code"] == "BAD_REQUEST"
        r = await a.post(
            "/users", json={"username": "alice", "password": PASSWORD, "email": "z@x.y"}
        )
        assert r.status_code == 409
        r = await a.get("/users", params={"q": "username=~ali"})
        assert [u["username"] for u in r.json()] == ["alice"]
        assert r.headers["X-Total-Count"] == "1"
        assert "password" not in r.text
        r = await a.put(f"/users/{user_id}", json={"realname": "Alice A."})
        assert r.status_code == 200
        assert (await a.get(f"/users/{user_id}")).json()["realname"] == "Alice A."
    async with api(berth, ("alice", PASSWORD)) as alice:
        me = (await alice.get("/users/current")).json()
        assert me["username"] == "alice"
        assert me["sysadmin_flag"] is False
        assert (await alice.get("/users")).status_code == 403
        r = await alice.put(
            f"/users/{user_id}/password",
            json={"old_password": "wrong", "new_password": "Newpass123"},
        )
        assert r.status_code == 400
        r = await alice.put(
            f"/users/{user_id}/password",
            json={"old_password": PASSWORD, "new_password": "Newpass123"},
        )
        assert r.status_code == 200
    async with api(berth, ("alice", "Newpass123")) as alice:
        assert (await alice.get("/users/current")).status_code == 200
    async with api(berth) as a:
        assert (
            await a.put(f"/users/{user_id}/sysadmin", json={"sysadmin_flag": True})
        ).status_code == 200
    async with api(berth, ("alice", "Newpass123")) as alice:
        assert (await alice.get("/users")).status_code == 200
    async with api(berth) as a:
        assert (await a.delete(f"/users/{user_id}")).status_code == 200
        assert (await a.get(f"/users/{user_id}")).status_code == 404


async def test_project_lifecycle_and_visibility(berth: Berth) -> None:
    await make_user(berth, "bob")
    project_id = await make_project(berth, "team")
    async with api(berth) as a:
        assert (await a.head("/projects", params={"project_name": "team"})).status_code == 200
        assert (await a.head("/projects", params={"project_name": "nope"})).status_code == 404
        r = await a.post("/projects", json={"project_name": "team"})
        assert r.status_code == 409
        r = await a.post("/projects", json={"project_name": "Bad Name"})
        assert r.status_code == 400
        project = (await a.get("/projects/team")).json()
        assert project["project_id"] == project_id
        assert project["metadata"]["public"] == "false"
        assert (await a.get(f"/projects/{project_id}")).json()["name"] == "team"
        names = {p["name"] for p in (await a.get("/projects")).json()}
        assert names == {"library", "team"}
    async with api(berth, ("bob", PASSWORD)) as bob:
        assert {p["name"] for p in (await bob.get("/projects")).json()} == {"library"}
        assert (await bob.get("/projects/team")).status_code == 403
    async with api(berth, None) as anon:
        assert {p["name"] for p in (await anon.get("/projects")).json()} == {"library"}
        assert (await anon.get("/projects/team")).status_code == 401
    await add_member(berth, "team", "bob", 3)
    async with api(berth, ("bob", PASSWORD)) as bob:
        listed = (await bob.get("/projects")).json()
        assert {p["name"] for p in listed} == {"library", "team"}
        team = next(p for p in listed if p["name"] == "team")
        assert team["current_user_role_id"] == 3
        assert (
            await bob.put("/projects/team", json={"metadata": {"public": "true"}})
        ).status_code == 403
        assert (await bob.delete("/projects/team")).status_code == 403
    async with api(berth) as a:
        assert (
            await a.put("/projects/team", json={"metadata": {"public": "true"}})
        ).status_code == 200
        assert (await a.get("/projects/team")).json()["metadata"]["public"] == "true"
    async with berth.client() as c:
        await push_image(c, "team/app", "v1")
    async with api(berth) as a:
        r = await a.delete("/projects/team")
        assert r.status_code == 412
        assert r.json()["errors"][0]["code"] == "PRECONDITION"
        assert (await a.get("/projects/team/_deletable")).json()["deletable"] is False
        summary = (await a.get("/projects/team/summary")).json()
        assert summary["repo_count"] == 1
        assert summary["guest_count"] == 1


@pytest.mark.parametrize(
    ("role", "pull", "push", "delete"),
    [
        (1, True, True, True),  # project admin
        (4, True, True, True),  # maintainer
        (2, True, True, False),  # developer
        (3, True, False, False),  # guest
        (5, True, False, False),  # limited guest
    ],
)
async def test_roles_decide_registry_access(
    berth: Berth, role: int, pull: bool, push: bool, delete: bool
) -> None:
    await make_user(berth, "carol")
    await make_project(berth, "private")
    async with berth.client() as admin:
        digest, _ = await push_image(admin, "private/app", "v1", seed="admin")
    await add_member(berth, "private", "carol", role)
    async with berth.client(("carol", PASSWORD)) as c:
        r = await c.get("/v2/private/app/manifests/v1")
        assert (r.status_code == 200) is pull
        r = await c.post("/v2/private/app/blobs/uploads/")
        assert (r.status_code == 202) is push, r.status_code
        r = await c.delete(f"/v2/private/app/manifests/{digest}")
        assert (r.status_code == 202) is delete, r.status_code


async def test_members_api_rights(berth: Berth) -> None:
    await make_user(berth, "dave")
    await make_user(berth, "erin")
    await make_project(berth, "proj")
    await add_member(berth, "proj", "dave", 2)
    async with api(berth, ("dave", PASSWORD)) as dave:
        listed = (await dave.get("/projects/proj/members")).json()
        assert {m["entity_name"]: m["role_name"] for m in listed} == {
            "admin": "projectAdmin",
            "dave": "developer",
        }
        r = await dave.post(
            "/projects/proj/members", json={"role_id": 1, "member_user": {"username": "erin"}}
        )
        assert r.status_code == 403
    async with api(berth) as a:
        r = await a.post(
            "/projects/proj/members", json={"role_id": 9, "member_user": {"username": "erin"}}
        )
        assert r.status_code == 400
        r = await a.post(
            "/projects/proj/members", json={"role_id": 2, "member_user": {"username": "dave"}}
        )
        assert r.status_code == 409
        mid = next(
            m["id"]
            for m in (await a.get("/projects/proj/members")).json()
            if m["entity_name"] == "dave"
        )
        assert (
            await a.put(f"/projects/proj/members/{mid}", json={"role_id": 1})
        ).status_code == 200
    async with api(berth, ("dave", PASSWORD)) as dave:
        r = await dave.post(
            "/projects/proj/members", json={"role_id": 3, "member_user": {"username": "erin"}}
        )
        assert r.status_code == 201
    async with api(berth) as a:
        assert (await a.delete(f"/projects/proj/members/{mid}")).status_code == 200
    async with api(berth, ("dave", PASSWORD)) as dave:
        assert (await dave.get("/projects/proj/members")).status_code == 403


async def test_project_robot_pulls_but_cannot_push(berth: Berth) -> None:
    await make_project(berth, "bots")
    async with berth.client() as admin:
        await push_image(admin, "bots/app", "v1")
    async with api(berth) as a:
        r = await a.post(
            "/robots",
            json={
                "name": "puller",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "bots",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        robot = r.json()
        assert robot["name"] == "robot$bots+puller"
        secret = robot["secret"]
        listed = (await a.get("/robots", params={"q": "Level=project"})).json()
        assert [x["name"] for x in listed] == ["robot$bots+puller"]
        assert "secret" not in listed[0]
    creds = (robot["name"], secret)
    async with berth.client(creds) as bot:
        assert (await bot.get("/v2/bots/app/manifests/v1")).status_code == 200
        assert (await bot.post("/v2/bots/app/blobs/uploads/")).status_code == 401
        assert (await bot.get("/v2/library/nothing/manifests/v1")).status_code in (401, 404)
    async with api(berth) as a:
        r = await a.patch(f"/robots/{robot['id']}", json={})
        new_secret = r.json()["secret"]
        assert new_secret != secret
    async with berth.client(creds) as bot:
        assert (await bot.get("/v2/bots/app/manifests/v1")).status_code == 401
    async with berth.client((robot["name"], new_secret)) as bot:
        assert (await bot.get("/v2/bots/app/manifests/v1")).status_code == 200
    async with api(berth) as a:
        assert (await a.put(f"/robots/{robot['id']}", json={"disable": True})).status_code == 200
    async with berth.client((robot["name"], new_secret)) as bot:
        assert (await bot.get("/v2/bots/app/manifests/v1")).status_code == 401


async def test_system_robot_across_projects_and_rights_to_create_robots(berth: Berth) -> None:
    await make_user(berth, "frank")
    await make_project(berth, "one")
    await make_project(berth, "two")
    await add_member(berth, "one", "frank", 2)
    robot_body = {
        "name": "ci",
        "level": "system",
        "duration": 30,
        "permissions": [
            {
                "kind": "project",
                "namespace": "*",
                "access": [
                    {"resource": "repository", "action": "pull"},
                    {"resource": "repository", "action": "push"},
                ],
            }
        ],
    }
    async with api(berth, ("frank", PASSWORD)) as frank:
        assert (await frank.post("/robots", json=robot_body)).status_code == 403
        project_robot = {
            "name": "mine",
            "level": "project",
            "duration": -1,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": "one",
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        }
        # Managing robots needs the project admin role; a developer may not.
        assert (await frank.post("/robots", json=project_robot)).status_code == 403
    async with api(berth) as a:
        r = await a.post("/robots", json=robot_body)
        assert r.status_code == 201
        robot = r.json()
        assert robot["expires_at"] > 0
    async with berth.client((robot["name"], robot["secret"])) as bot:
        await push_image(bot, "one/app", "v1")
        await push_image(bot, "two/app", "v1")


async def test_audit_log_records_pushes_pulls_deletes_and_changes(berth: Berth) -> None:
    await make_user(berth, "gina")
    await make_project(berth, "audited")
    await add_member(berth, "audited", "gina", 2)
    async with berth.client(("gina", PASSWORD)) as c:
        digest, _ = await push_image(c, "audited/app", "v1")
        assert (await c.get("/v2/audited/app/manifests/v1")).status_code == 200
    async with berth.client() as admin:
        assert (await admin.delete(f"/v2/audited/app/manifests/{digest}")).status_code == 202
    async with api(berth) as a:
        logs = (await a.get("/audit-logs", params={"page_size": 100})).json()
        seen = {(log["operation"], log["resource_type"], log["username"]) for log in logs}
        assert ("create", "artifact", "gina") in seen
        assert ("pull", "artifact", "gina") in seen
        assert ("delete", "artifact", "admin") in seen
        assert ("create", "project", "admin") in seen
        assert ("create", "member", "admin") in seen
        assert ("create", "user", "admin") in seen
        r = await a.get("/audit-logs", params={"q": "operation=pull"})
        assert {log["operation"] for log in r.json()} == {"pull"}
    async with api(berth, ("gina", PASSWORD)) as gina:
        mine = (await gina.get("/audit-logs", params={"page_size": 100})).json()
        # Only what happened in projects gina belongs to: no user or global entries.
        assert mine
        assert all(log["resource_type"] in ("artifact", "project", "member") for log in mine)
        project_logs = (await gina.get("/projects/audited/logs")).json()
        assert {log["operation"] for log in project_logs} >= {"create", "pull", "delete"}


async def test_configurations_hide_secrets_and_need_admin(berth: Berth) -> None:
    await make_user(berth, "hank")
    async with api(berth) as a:
        r = await a.put(
            "/configurations",
            json={"ldap_search_password": "s3cret-value", "ldap_url": "ldap://127.0.0.1:1"},
        )
        assert r.status_code == 200
        r = await a.get("/configurations")
        assert r.json()["ldap_url"]["value"] == "ldap://127.0.0.1:1"
        assert "s3cret-value" not in r.text
        assert "ldap_search_password" not in r.json()
        r = await a.put("/configurations", json={"auth_mode": "kerberos"})
        assert r.status_code == 400
        r = await a.put("/configurations", json={"no_such_key": 1})
        assert r.status_code == 400
    async with api(berth, ("hank", PASSWORD)) as hank:
        assert (await hank.get("/configurations")).status_code == 403
    async with api(berth, None) as anon:
        assert (await anon.get("/configurations")).status_code == 401


async def test_api_errors_use_harbors_envelope(berth: Berth) -> None:
    async with api(berth) as a:
        r = await a.get("/projects/doesnotexist")
        assert r.status_code == 404
        assert r.json() == {
            "errors": [{"code": "NOT_FOUND", "message": "project doesnotexist not found"}]
        }
        r = await a.post(
            "/projects", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400
        r = await a.get("/projects", params={"page_size": "abc"})
        assert r.status_code == 400
        r = await a.get("/projects", params={"q": "nosuchkey=1"})
        assert r.status_code == 400
    async with api(berth, ("admin", "wrong")) as bad:
        r = await bad.get("/projects")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_pagination_headers(berth: Berth) -> None:
    await asyncio.gather(*(make_project(berth, f"p{i:02d}") for i in range(12)))
    async with api(berth) as a:
        r = await a.get("/projects", params={"page": 2, "page_size": 5, "sort": "name"})
        assert r.headers["X-Total-Count"] == "13"
        assert [p["name"] for p in r.json()] == ["p04", "p05", "p06", "p07", "p08"]
        assert 'rel="next"' in r.headers["Link"]
        assert 'rel="prev"' in r.headers["Link"]
        r = await a.get("/projects", params={"sort": "-name", "page_size": 1})
        assert r.json()[0]["name"] == "p11"


async def test_configuration_from_the_environment_applies_at_first_start_only(
    berth: Berth,
) -> None:
    from registry.services.bootstrap import bootstrap

    backends = berth.app.state.backends
    # What `BERTH_CONFIGURATION__AUTH_MODE=…` and friends hand to the bootstrap.
    await bootstrap(backends.db, ADMIN_PASSWORD, {"AUTH_MODE": "ldap_auth", "ldap_uid": "cn"})
    backends.config.invalidate()
    async with api(berth) as a:
        shown = (await a.get("/configurations")).json()
        assert shown["auth_mode"]["value"] == "ldap_auth"
        assert shown["ldap_uid"]["value"] == "cn"
        assert (await a.put("/configurations", json={"auth_mode": "db_auth"})).status_code == 200
    # A restart with the same environment leaves what was configured since alone.
    await bootstrap(backends.db, ADMIN_PASSWORD, {"AUTH_MODE": "ldap_auth"})
    backends.config.invalidate()
    async with api(berth) as a:
        assert (await a.get("/configurations")).json()["auth_mode"]["value"] == "db_auth"
