"""Immutable tag rules through /api/v2.0, and how the registry evaluates them."""

from __future__ import annotations

from typing import Any

import pytest

from registry.db.pool import open_pool
from registry.services.immutability import immutable_tags
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import OCI_MANIFEST, image_manifest, push_blob, push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user


def rule(
    tag: str = "**",
    repository: str = "**",
    *,
    tag_decoration: str = "matches",
    repository_decoration: str = "repoMatches",
    disabled: bool = False,
) -> dict[str, Any]:
    """A rule body as Harbor's portal sends it."""
    return {
        "disabled": disabled,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}],
        "scope_selectors": {
            "repository": [
                {"kind": "doublestar", "decoration": repository_decoration, "pattern": repository}
            ]
        },
    }


async def test_rules_crud(berth: Berth) -> None:
    project_id = await make_project(berth, "frozen")
    async with api(berth) as a:
        r = await a.post("/projects/frozen/immutabletagrules", json=rule("v*", "app/**"))
        assert r.status_code == 201, r.text
        location = r.headers["Location"]
        rule_id = int(location.rsplit("/", 1)[1])
        assert location == f"/api/v2.0/projects/{project_id}/immutabletagrules/{rule_id}"
        r = await a.get("/projects/frozen/immutabletagrules")
        assert r.status_code == 200
        assert r.headers["X-Total-Count"] == "1"
        assert r.json() == [
            {
                "id": rule_id,
                "priority": 0,
                "disabled": False,
                "action": "immutable",
                "template": "immutable_template",
                "params": {},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "app/**"}
                    ]
                },
            }
        ]
        # The same selectors twice in one project is a conflict, as in Harbor.
        r = await a.post(f"/projects/{project_id}/immutabletagrules", json=rule("v*", "app/**"))
        assert r.status_code == 409
        assert r.json()["errors"][0]["code"] == "CONFLICT"

        # The portal's toggle sends only "disabled"; the selectors stay.
        path = f"/projects/frozen/immutabletagrules/{rule_id}"
        assert (await a.put(path, json={"disabled": True})).status_code == 200
        [stored] = (await a.get("/projects/frozen/immutabletagrules")).json()
        assert stored["disabled"] is True
        assert stored["tag_selectors"][0]["pattern"] == "v*"
        r = await a.put(path, json={**rule("release-*", "**"), "priority": 3})
        assert r.status_code == 200
        [stored] = (await a.get("/projects/frozen/immutabletagrules")).json()
        assert (stored["disabled"], stored["priority"]) == (False, 3)
        assert stored["tag_selectors"][0]["pattern"] == "release-*"

        second = await a.post("/projects/frozen/immutabletagrules", json=rule("latest"))
        assert second.status_code == 201
        second_id = int(second.headers["Location"].rsplit("/", 1)[1])
        # Updating a rule into the selectors of another one conflicts too.
        r = await a.put(f"/projects/frozen/immutabletagrules/{second_id}", json=rule("release-*"))
        assert r.status_code == 409
        r = await a.get(
            "/projects/frozen/immutabletagrules", params={"page_size": 1, "sort": "-id"}
        )
        assert [x["id"] for x in r.json()] == [second_id]
        assert r.headers["X-Total-Count"] == "2"
        assert 'rel="next"' in r.headers["Link"]
        r = await a.get("/projects/frozen/immutabletagrules", params={"q": "disabled=false"})
        assert len(r.json()) == 2

        # A rule is reached only through its own project.
        await make_project(berth, "elsewhere")
        assert (
            await a.put(f"/projects/elsewhere/immutabletagrules/{rule_id}", json=rule())
        ).status_code == 404
        assert (
            await a.delete(f"/projects/elsewhere/immutabletagrules/{rule_id}")
        ).status_code == 404

        assert (await a.delete(path)).status_code == 200
        assert (await a.delete(path)).status_code == 404
        assert (await a.put(path, json=rule())).status_code == 404
        assert [x["id"] for x in (await a.get("/projects/frozen/immutabletagrules")).json()] == [
            second_id
        ]
        assert (await a.get("/projects/nope/immutabletagrules")).status_code == 404
        logs = (await a.get("/projects/frozen/logs", params={"page_size": 50})).json()
        assert {log["operation"] for log in logs if log["resource_type"] == "immutable_rule"} == {
            "create",
            "update",
            "delete",
        }


def _selector(decoration: str, pattern: Any, kind: Any = "doublestar") -> dict[str, Any]:
    return {"kind": kind, "decoration": decoration, "pattern": pattern}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**rule(), "tag_selectors": []},
        {**rule(), "tag_selectors": [_selector("matches", "")]},
        {**rule(), "tag_selectors": [_selector("matches", None)]},
        {**rule(), "tag_selectors": [_selector("repoMatches", "**")]},
        {**rule(), "tag_selectors": [_selector("matches", "**", kind="regexp")]},
        {**rule(), "tag_selectors": [_selector("matches", "v[1")]},
        {**rule(), "tag_selectors": "**"},
        {**rule(), "scope_selectors": {}},
        {**rule(), "scope_selectors": {"repository": []}},
        {**rule(), "scope_selectors": {"repository": [_selector("matches", "**")]}},
        {**rule(), "scope_selectors": {"repository": [_selector("repoMatches", "{a,b")]}},
        {**rule(), "scope_selectors": {"namespace": [_selector("repoMatches", "**")]}},
        {**rule(), "disabled": "yes"},
        {**rule(), "priority": "high"},
        {**rule(), "action": "retain"},
        {**rule(), "template": "latestPushedK"},
    ],
)
async def test_invalid_rules_are_refused(berth: Berth, body: dict[str, Any]) -> None:
    async with api(berth) as a:
        r = await a.post("/projects/library/immutabletagrules", json=body)
        assert r.status_code == 400, r.text
        [error] = r.json()["errors"]
        assert error["code"] == "BAD_REQUEST"
        assert error["message"]
        assert (await a.get("/projects/library/immutabletagrules")).json() == []


async def test_invalid_update_keeps_the_rule(berth: Berth) -> None:
    async with api(berth) as a:
        r = await a.post("/projects/library/immutabletagrules", json=rule("v*"))
        path = f"/projects/library/immutabletagrules/{r.headers['Location'].rsplit('/', 1)[1]}"
        bad = {**rule(), "scope_selectors": {"repository": [_selector("repoMatches", "")]}}
        assert (await a.put(path, json=bad)).status_code == 400
        assert (await a.put(path, content=b"[]")).status_code == 400
        [stored] = (await a.get("/projects/library/immutabletagrules")).json()
        assert stored["tag_selectors"][0]["pattern"] == "v*"


@pytest.mark.parametrize(
    ("role", "may_read", "may_manage"),
    [
        (1, True, True),  # project admin
        (4, True, True),  # maintainer
        (2, False, False),  # developer
        (3, False, False),  # guest
        (5, False, False),  # limited guest
        (None, False, False),  # not a member
    ],
)
async def test_rule_rights_per_role(
    berth: Berth, role: int | None, may_read: bool, may_manage: bool
) -> None:
    await make_user(berth, "ivy")
    await make_project(berth, "guarded")
    if role is not None:
        await add_member(berth, "guarded", "ivy", role)
    async with api(berth) as a:
        r = await a.post("/projects/guarded/immutabletagrules", json=rule("v*"))
        existing = r.headers["Location"].rsplit("/", 1)[1]
    async with api(berth, ("ivy", PASSWORD)) as ivy:
        r = await ivy.get("/projects/guarded/immutabletagrules")
        assert r.status_code == (200 if may_read else 403)
        r = await ivy.post("/projects/guarded/immutabletagrules", json=rule("latest"))
        assert r.status_code == (201 if may_manage else 403)
        path = f"/projects/guarded/immutabletagrules/{existing}"
        r = await ivy.put(path, json={"disabled": True})
        assert r.status_code == (200 if may_manage else 403)
        r = await ivy.delete(path)
        assert r.status_code == (200 if may_manage else 403)
    async with api(berth, None) as anon:
        assert (await anon.get("/projects/guarded/immutabletagrules")).status_code == 401
        assert (
            await anon.post("/projects/guarded/immutabletagrules", json=rule())
        ).status_code == 401


async def test_immutable_tags_follow_the_enabled_rules(berth: Berth) -> None:
    project_id = await make_project(berth, "prot")
    other_id = await make_project(berth, "other")
    async with api(berth) as a:
        for body in (
            rule("v*", "app/**"),
            rule("latest", "scratch", repository_decoration="repoExcludes"),
            rule("dev-*", "{web,api}", tag_decoration="excludes"),
            rule("**", "**", disabled=True),
        ):
            r = await a.post("/projects/prot/immutabletagrules", json=body)
            assert r.status_code == 201, r.text
        disabled_id = r.headers["Location"].rsplit("/", 1)[1]
        assert (await a.post("/projects/other/immutabletagrules", json=rule())).status_code == 201
    tags = ["v1", "v2.0", "latest", "dev-3", "nightly"]
    pool = await open_pool(berth.database_url, size=2)
    try:
        # Repository patterns see the path without the project.
        assert await immutable_tags(pool, project_id, "prot/app", tags) == {"v1", "v2.0", "latest"}
        assert await immutable_tags(pool, project_id, "prot/app/web", tags) == {
            "v1",
            "v2.0",
            "latest",
        }
        assert await immutable_tags(pool, project_id, "prot/scratch", tags) == set()
        assert await immutable_tags(pool, project_id, "prot/web", tags) == {
            "v1",
            "v2.0",
            "latest",
            "nightly",
        }
        assert await immutable_tags(pool, project_id, "prot/tools/web", tags) == {"latest"}
        assert await immutable_tags(pool, project_id, "prot/web", []) == set()
        assert await immutable_tags(pool, other_id, "other/scratch", tags) == set(tags)
        async with api(berth) as a:
            r = await a.put(
                f"/projects/prot/immutabletagrules/{disabled_id}", json={"disabled": False}
            )
            assert r.status_code == 200
        assert await immutable_tags(pool, project_id, "prot/scratch", tags) == set(tags)
        async with api(berth) as a:
            assert (await a.delete("/projects/other")).status_code == 200
        # Deleting a project takes its rules with it.
        assert await immutable_tags(pool, other_id, "other/scratch", tags) == set()
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM immutable_rules WHERE project_id = $1", other_id
            )
            == 0
        )
    finally:
        await pool.close()


async def test_registry_refuses_to_move_or_delete_protected_tags(berth: Berth) -> None:
    await make_project(berth, "locked")
    async with berth.client() as c:
        first, _ = await push_image(c, "locked/app", "v1", seed="one")
    async with api(berth) as a:
        r = await a.post("/projects/locked/immutabletagrules", json=rule("v*", "app"))
        rule_path = f"/projects/locked/immutabletagrules/{r.headers['Location'].rsplit('/', 1)[1]}"
    async with berth.client() as c:
        # Pushing the same manifest again changes nothing and is allowed.
        await push_image(c, "locked/app", "v1", seed="one")
        await push_image(c, "locked/app", "v2", seed="two")
        await push_image(c, "locked/app", "latest", seed="three")
        await push_image(c, "locked/app", "latest", seed="four")
        config, layer = b'{"os": "linux"}', b"five" * 100
        await push_blob(c, "locked/app", config)
        await push_blob(c, "locked/app", layer)
        r = await c.put(
            "/v2/locked/app/manifests/v1",
            content=image_manifest(config, [layer]),
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 403
        assert r.json()["errors"][0]["code"] == "DENIED"
        r = await c.delete("/v2/locked/app/manifests/v1")
        assert r.status_code == 403
        assert r.json()["errors"][0]["code"] == "DENIED"
        assert (await c.delete(f"/v2/locked/app/manifests/{first}")).status_code == 403
        r = await c.get("/v2/locked/app/manifests/v1")
        assert r.headers["Docker-Content-Digest"] == first
    async with api(berth) as a:
        assert (await a.put(rule_path, json={"disabled": True})).status_code == 200
    async with berth.client() as c:
        await push_image(c, "locked/app", "v1", seed="five")
        assert (await c.delete("/v2/locked/app/manifests/v1")).status_code == 202
