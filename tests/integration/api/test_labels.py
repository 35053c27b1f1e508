"""Global and project labels through /api/v2.0, and labels on artifacts."""

from __future__ import annotations

import pytest

from registry.db import labels
from registry.db.pool import open_pool
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user


def _id(location: str) -> int:
    return int(location.rsplit("/", 1)[1])


async def test_global_labels_crud_and_rights(berth: Berth) -> None:
    await make_user(berth, "jack")
    async with api(berth) as a:
        r = await a.post(
            "/labels",
            json={"name": "stable", "description": "ok", "color": "#61717D", "scope": "g"},
        )
        assert r.status_code == 201, r.text
        label_id = _id(r.headers["Location"])
        assert r.headers["Location"] == f"/api/v2.0/labels/{label_id}"
        label = (await a.get(f"/labels/{label_id}")).json()
        assert {
            k: label[k] for k in ("id", "name", "description", "color", "scope", "project_id")
        } == {
            "id": label_id,
            "name": "stable",
            "description": "ok",
            "color": "#61717D",
            "scope": "g",
            "project_id": 0,
        }
        assert label["creation_time"]
        assert label["update_time"]
        assert (await a.post("/labels", json={"name": "stable", "scope": "g"})).status_code == 409
        # The scope defaults to global.
        r = await a.post("/labels", json={"name": "beta"})
        assert r.status_code == 201
        beta_id = _id(r.headers["Location"])
        for bad in (
            {"name": ""},
            {"name": "   "},
            {"description": "no name"},
            {"name": 5},
            {"name": "x" * 200},
            {"name": "x", "scope": "z"},
            {"name": "x", "scope": "g", "project_id": 1},
            {"name": "x", "color": ["red"]},
        ):
            r = await a.post("/labels", json=bad)
            assert r.status_code == 400, bad
            assert r.json()["errors"][0]["code"] == "BAD_REQUEST"
        r = await a.get("/labels", params={"scope": "g"})
        assert [x["name"] for x in r.json()] == ["stable", "beta"]
        assert r.headers["X-Total-Count"] == "2"
        assert [x["name"] for x in (await a.get("/labels")).json()] == ["stable", "beta"]
        r = await a.get("/labels", params={"name": "tab"})
        assert [x["name"] for x in r.json()] == ["stable"]
        r = await a.get("/labels", params={"q": "name=beta"})
        assert [x["name"] for x in r.json()] == ["beta"]
        r = await a.get("/labels", params={"sort": "-name", "page_size": 1})
        assert [x["name"] for x in r.json()] == ["stable"]
        assert 'rel="next"' in r.headers["Link"]
        assert (await a.get("/labels", params={"scope": "x"})).status_code == 400

        r = await a.put(f"/labels/{label_id}", json={"name": "production", "color": "#000000"})
        assert r.status_code == 200
        label = (await a.get(f"/labels/{label_id}")).json()
        assert (label["name"], label["description"], label["color"]) == (
            "production",
            "ok",
            "#000000",
        )
        assert (await a.put(f"/labels/{beta_id}", json={"name": "production"})).status_code == 409
        assert (await a.put("/labels/999999", json={"name": "zzz"})).status_code == 404
        assert (await a.get("/labels/999999")).status_code == 404
        assert (await a.get("/labels/abc")).status_code == 400

    async with api(berth, ("jack", PASSWORD)) as jack:
        assert [x["name"] for x in (await jack.get("/labels", params={"scope": "g"})).json()] == [
            "production",
            "beta",
        ]
        assert (await jack.get(f"/labels/{label_id}")).status_code == 200
        assert (await jack.post("/labels", json={"name": "mine", "scope": "g"})).status_code == 403
        assert (await jack.put(f"/labels/{label_id}", json={"name": "x"})).status_code == 403
        assert (await jack.delete(f"/labels/{label_id}")).status_code == 403
    async with api(berth, None) as anon:
        assert (await anon.get("/labels", params={"scope": "g"})).status_code == 401
        assert (await anon.get(f"/labels/{label_id}")).status_code == 401
        assert (await anon.post("/labels", json={"name": "anon"})).status_code == 401

    async with api(berth) as a:
        assert (await a.delete(f"/labels/{label_id}")).status_code == 200
        assert (await a.get(f"/labels/{label_id}")).status_code == 404
        assert (await a.delete(f"/labels/{label_id}")).status_code == 404
        logs = (await a.get("/audit-logs", params={"q": "resource_type=label"})).json()
        assert {log["operation"] for log in logs} == {"create", "update", "delete"}


@pytest.mark.parametrize(
    ("role", "may_read", "may_manage"),
    [
        (1, True, True),  # project admin
        (4, True, True),  # maintainer
        (2, True, False),  # developer
        (3, True, False),  # guest
        (5, False, False),  # limited guest
        (None, False, False),  # not a member
    ],
)
async def test_project_label_rights_per_role(
    berth: Berth, role: int | None, may_read: bool, may_manage: bool
) -> None:
    await make_user(berth, "kate")
    project_id = await make_project(berth, "team")
    if role is not None:
        await add_member(berth, "team", "kate", role)
    async with api(berth) as a:
        r = await a.post("/labels", json={"name": "qa", "scope": "p", "project_id": project_id})
        assert r.status_code == 201, r.text
        label_id = _id(r.headers["Location"])
    async with api(berth, ("kate", PASSWORD)) as kate:
        r = await kate.get("/labels", params={"scope": "p", "project_id": project_id})
        assert r.status_code == (200 if may_read else 403)
        if may_read:
            assert [(x["name"], x["project_id"]) for x in r.json()] == [("qa", project_id)]
        assert (await kate.get(f"/labels/{label_id}")).status_code == (200 if may_read else 403)
        r = await kate.post("/labels", json={"name": "new", "scope": "p", "project_id": project_id})
        assert r.status_code == (201 if may_manage else 403)
        r = await kate.put(f"/labels/{label_id}", json={"description": "checked"})
        assert r.status_code == (200 if may_manage else 403)
        r = await kate.delete(f"/labels/{label_id}")
        assert r.status_code == (200 if may_manage else 403)


async def test_project_labels_are_scoped_to_their_project(berth: Berth) -> None:
    one = await make_project(berth, "one")
    two = await make_project(berth, "two")
    async with api(berth) as a:
        for body in (
            {"name": "shared", "scope": "g"},
            {"name": "shared", "scope": "p", "project_id": one},
            {"name": "shared", "scope": "p", "project_id": two},
        ):
            assert (await a.post("/labels", json=body)).status_code == 201, body
        r = await a.post("/labels", json={"name": "shared", "scope": "p", "project_id": one})
        assert r.status_code == 409
        assert (await a.post("/labels", json={"name": "x", "scope": "p"})).status_code == 400
        r = await a.post("/labels", json={"name": "x", "scope": "p", "project_id": 999999})
        assert r.status_code == 404
        r = await a.get("/labels", params={"scope": "p", "project_id": one})
        assert [(x["scope"], x["project_id"]) for x in r.json()] == [("p", one)]
        # Without a scope, a project_id means that project's labels.
        r = await a.get("/labels", params={"project_id": two})
        assert [(x["scope"], x["project_id"]) for x in r.json()] == [("p", two)]
        assert [x["scope"] for x in (await a.get("/labels", params={"scope": "g"})).json()] == ["g"]
        assert (await a.get("/labels", params={"scope": "p"})).status_code == 400
        # A project's labels go with it.
        assert (await a.delete("/projects/two")).status_code == 200
        assert (await a.get("/labels", params={"scope": "p", "project_id": two})).status_code == 404
        count = len((await a.get("/labels", params={"scope": "p", "project_id": one})).json())
        assert count == 1


async def test_labels_on_artifacts(berth: Berth) -> None:
    await make_user(berth, "liam")
    await make_user(berth, "mia")
    lab = await make_project(berth, "lab")
    other = await make_project(berth, "otherlab")
    await add_member(berth, "lab", "liam", 2)  # developer
    await add_member(berth, "lab", "mia", 3)  # guest
    async with berth.client() as c:
        digest, _ = await push_image(c, "lab/app/web", "v1")
        await push_image(c, "lab/tool", "v1", seed="tool")
    async with api(berth) as a:

        async def label(body: dict[str, object]) -> int:
            r = await a.post("/labels", json=body)
            assert r.status_code == 201, r.text
            return _id(r.headers["Location"])

        global_id = await label({"name": "approved"})
        mine_id = await label({"name": "mine", "scope": "p", "project_id": lab})
        theirs_id = await label({"name": "theirs", "scope": "p", "project_id": other})

    base = "/projects/lab/repositories"
    async with api(berth, ("liam", PASSWORD)) as liam:
        # Harbor clients send a nested repository name as a%252Fb, some as a%2Fb.
        r = await liam.post(f"{base}/app%252Fweb/artifacts/v1/labels", json={"id": global_id})
        assert r.status_code == 200, r.text
        r = await liam.post(f"{base}/app%252Fweb/artifacts/v1/labels", json={"id": global_id})
        assert r.status_code == 409
        r = await liam.post(f"{base}/app%2Fweb/artifacts/{digest}/labels", json={"id": mine_id})
        assert r.status_code == 200, r.text
        r = await liam.post(f"{base}/app%252Fweb/artifacts/v1/labels", json={"id": theirs_id})
        assert r.status_code == 400
        for path, body, status in (
            (f"{base}/app%252Fweb/artifacts/v1/labels", {"id": 999999}, 404),
            (f"{base}/app%252Fweb/artifacts/v2/labels", {"id": global_id}, 404),
            (f"{base}/app%252Fweb/artifacts/sha256:{'0' * 64}/labels", {"id": global_id}, 404),
            (f"{base}/nothing/artifacts/v1/labels", {"id": global_id}, 404),
            (f"{base}/app%252Fweb/artifacts/v1/labels", {"id": "one"}, 400),
            (f"{base}/app%252Fweb/artifacts/v1/labels", {}, 400),
            ("/projects/nolab/repositories/app/artifacts/v1/labels", {"id": global_id}, 404),
        ):
            r = await liam.post(path, json=body)
            assert r.status_code == status, (path, body, r.text)
        r = await liam.post(f"{base}/tool/artifacts/v1/labels", json={"id": mine_id})
        assert r.status_code == 200
    async with api(berth, ("mia", PASSWORD)) as mia:
        r = await mia.post(f"{base}/tool/artifacts/v1/labels", json={"id": global_id})
        assert r.status_code == 403
        r = await mia.delete(f"{base}/tool/artifacts/v1/labels/{mine_id}")
        assert r.status_code == 403
    async with api(berth, None) as anon:
        r = await anon.post(f"{base}/tool/artifacts/v1/labels", json={"id": global_id})
        assert r.status_code == 401

    pool = await open_pool(berth.database_url, size=2)
    try:
        ids = {
            row["name"]: row["id"]
            for row in await pool.fetch(
                "SELECT a.id, r.name FROM artifacts a JOIN repositories r ON r.id = a.repository_id"
            )
        }
        web, tool = ids["lab/app/web"], ids["lab/tool"]
        found = await labels.of_artifacts(pool, [web, tool])
        assert [row["name"] for row in found[web]] == ["approved", "mine"]
        assert [row["name"] for row in found[tool]] == ["mine"]

        async with api(berth, ("liam", PASSWORD)) as liam:
            r = await liam.delete(f"{base}/app%252Fweb/artifacts/v1/labels/{global_id}")
            assert r.status_code == 200
            r = await liam.delete(f"{base}/app%252Fweb/artifacts/v1/labels/{global_id}")
            assert r.status_code == 404
            r = await liam.delete(f"{base}/app%252Fweb/artifacts/v1/labels/999999")
            assert r.status_code == 404
        assert [row["name"] for row in (await labels.of_artifacts(pool, [web]))[web]] == ["mine"]
        # Deleting a label takes it off every artifact.
        async with api(berth) as a:
            assert (await a.delete(f"/labels/{mine_id}")).status_code == 200
        assert await labels.of_artifacts(pool, [web, tool]) == {web: [], tool: []}
    finally:
        await pool.close()
