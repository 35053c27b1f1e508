"""Repositories, artifacts, tags, copies, accessories and quotas through /api/v2.0."""

from __future__ import annotations

import asyncio
import json
import os

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    descriptor,
    digest_of,
    push_blob,
    push_image,
)
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user

STORAGE_DRIVERS = ("filesystem", "s3")


async def test_repositories_list_get_update_delete(berth: Berth) -> None:
    async with berth.client() as c:
        await push_image(c, "library/web", "v1")
        await push_image(c, "library/tools/cli", "v1")
        await push_image(c, "library/tools/cli", "v2", seed="2")
    async with api(berth) as a:
        repos = (await a.get("/projects/library/repositories")).json()
        assert {r["name"]: r["artifact_count"] for r in repos} == {
            "library/web": 1,
            "library/tools/cli": 2,
        }
        r = await a.get("/repositories", params={"q": "name=~tools"})
        assert [x["name"] for x in r.json()] == ["library/tools/cli"]
        # Nested names are addressed with %2F (or Harbor's double-encoded %252F).
        for encoded in ("tools%2Fcli", "tools%252Fcli"):
            r = await a.get(f"/projects/library/repositories/{encoded}")
            assert r.status_code == 200, encoded
            assert r.json()["name"] == "library/tools/cli"
        r = await a.put("/projects/library/repositories/web", json={"description": "the site"})
        assert r.status_code == 200
        assert (await a.get("/projects/library/repositories/web")).json()[
            "description"
        ] == "the site"
        assert (await a.delete("/projects/library/repositories/tools%252Fcli")).status_code == 200
        assert (await a.get("/projects/library/repositories/tools%252Fcli")).status_code == 404
    async with berth.client() as c:
        assert (await c.get("/v2/library/tools/cli/manifests/v1")).status_code == 404


async def test_artifact_details_tags_and_pull_time(berth: Berth) -> None:
    async with berth.client() as c:
        config = json.dumps(
            {
                "architecture": "arm64",
                "os": "linux",
                "config": {"Env": ["A=1"]},
                "history": [{"created_by": "step one"}],
                "created": "2026-01-01T00:00:00Z",
            }
        ).encode()
        layer = os.urandom(1000)
        await push_blob(c, "library/app", config)
        await push_blob(c, "library/app", layer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
                "annotations": {"org.opencontainers.image.title": "app"},
            }
        ).encode()
        r = await c.put(
            "/v2/library/app/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        digest = r.headers["Docker-Content-Digest"]
        await c.get("/v2/library/app/manifests/v1")
    await berth.app.state.backends.audit.flush()
    async with api(berth) as a:
        art = (await a.get("/projects/library/repositories/app/artifacts/v1")).json()
        assert art["digest"] == digest
        assert art["type"] == "IMAGE"
        assert art["manifest_media_type"] == OCI_MANIFEST
        assert art["media_type"] == "application/vnd.oci.image.config.v1+json"
        assert art["size"] == len(manifest) + len(config) + len(layer)
        assert art["extra_attrs"]["architecture"] == "arm64"
        assert art["extra_attrs"]["config"] == {"Env": ["A=1"]}
        assert art["annotations"] == {"org.opencontainers.image.title": "app"}
        assert [t["name"] for t in art["tags"]] == ["v1"]
        assert art["pull_time"] is not None
        assert art["tags"][0]["pull_time"] is not None
        assert (await a.get(f"/projects/library/repositories/app/artifacts/{digest}")).json()[
            "id"
        ] == art["id"]
        history = (
            await a.get("/projects/library/repositories/app/artifacts/v1/additions/build_history")
        ).json()
        assert history == [{"created_by": "step one"}]
        r = await a.post(
            "/projects/library/repositories/app/artifacts/v1/tags", json={"name": "stable"}
        )
        assert r.status_code == 201
        r = await a.post(
            "/projects/library/repositories/app/artifacts/v1/tags", json={"name": "stable"}
        )
        assert r.status_code == 409
        r = await a.post(
            "/projects/library/repositories/app/artifacts/v1/tags", json={"name": "-bad"}
        )
        assert r.status_code == 400
        tags = (await a.get("/projects/library/repositories/app/artifacts/v1/tags")).json()
        assert {t["name"] for t in tags} == {"v1", "stable"}
        assert (
            await a.delete("/projects/library/repositories/app/artifacts/v1/tags/v1")
        ).status_code == 200
        assert (
            await a.get("/projects/library/repositories/app/artifacts/stable")
        ).status_code == 200
        repo = (await a.get("/projects/library/repositories/app")).json()
        assert repo["pull_count"] == 1
        listed = (
            await a.get("/projects/library/repositories/app/artifacts", params={"q": "type=IMAGE"})
        ).json()
        assert len(listed) == 1
        assert (
            await a.delete(f"/projects/library/repositories/app/artifacts/{digest}")
        ).status_code == 200
        assert (
            await a.get(
                "/projects/library/repositories/app/artifacts", params={"with_tag": "false"}
            )
        ).json() == []


async def test_index_references_and_guarded_child_delete(berth: Berth) -> None:
    async with berth.client() as c:
        child_digest, child = await push_image(c, "library/multi", seed="amd64")
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    descriptor(
                        OCI_MANIFEST, child, platform={"architecture": "amd64", "os": "linux"}
                    )
                ],
            }
        ).encode()
        await c.put(
            "/v2/library/multi/manifests/latest", content=index, headers={"Content-Type": OCI_INDEX}
        )
    async with api(berth) as a:
        art = (await a.get("/projects/library/repositories/multi/artifacts/latest")).json()
        assert art["references"] == [
            {
                "parent_id": art["id"],
                "child_id": art["references"][0]["child_id"],
                "child_digest": child_digest,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ]
        r = await a.delete(f"/projects/library/repositories/multi/artifacts/{child_digest}")
        assert r.status_code == 412


async def test_accessories_and_signature_flag(berth: Berth) -> None:
    async with berth.client() as c:
        subject_digest, subject = await push_image(c, "library/signed", "v1")
        empty = await push_blob(c, "library/signed", b"{}")
        sig = b"signature bytes"
        await push_blob(c, "library/signed", sig)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": empty,
                    "size": 2,
                },
                "layers": [descriptor("application/octet-stream", sig)],
                "subject": descriptor(OCI_MANIFEST, subject),
            }
        ).encode()
        r = await c.put(
            f"/v2/library/signed/manifests/{digest_of(body)}",
            content=body,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 201
    async with api(berth) as a:
        accessories = (
            await a.get("/projects/library/repositories/signed/artifacts/v1/accessories")
        ).json()
        assert [(x["digest"], x["type"]) for x in accessories] == [
            (digest_of(body), "signature.cosign")
        ]
        art = (
            await a.get(
                "/projects/library/repositories/signed/artifacts/v1",
                params={"with_signature": "true"},
            )
        ).json()
        assert art["is_signed"] is True
        assert accessories[0]["subject_artifact_digest"] == subject_digest


async def test_copy_links_blobs_and_needs_rights_on_both_sides(berth: Berth) -> None:
    await make_project(berth, "dest")
    await make_user(berth, "ivy")
    await add_member(berth, "dest", "ivy", 2)
    await make_project(berth, "secret")
    async with berth.client() as c:
        digest, _ = await push_image(c, "library/src", "v1")
        await push_image(c, "secret/src", "v1", seed="s")
    async with api(berth) as a:
        r = await a.post(
            "/projects/dest/repositories/copy/artifacts", params={"from": "library/src:v1"}
        )
        assert r.status_code == 201, r.text
    async with berth.client() as c:
        r = await c.get("/v2/dest/copy/manifests/v1")
        assert r.headers["Docker-Content-Digest"] == digest
    async with api(berth, ("ivy", PASSWORD)) as ivy:
        # ivy may push to dest but cannot read the private source project.
        r = await ivy.post(
            "/projects/dest/repositories/x/artifacts", params={"from": "secret/src:v1"}
        )
        assert r.status_code == 403
        r = await ivy.post(
            "/projects/dest/repositories/x/artifacts", params={"from": f"library/src@{digest}"}
        )
        assert r.status_code == 201
        r = await ivy.post(
            "/projects/dest/repositories/x/artifacts", params={"from": "library/src:nope"}
        )
        assert r.status_code == 404


async def test_quota_refuses_a_push_that_would_not_fit(berth: Berth) -> None:
    async with api(berth) as a:
        r = await a.post("/projects", json={"project_name": "small", "storage_limit": 5000})
        assert r.status_code == 201
        quota = (
            await a.get("/quotas", params={"reference": "project", "reference_id": "small"})
        ).json()[0]
        assert quota["hard"]["storage"] == 5000
        assert quota["used"]["storage"] == 0
    async with berth.client() as c:
        first = os.urandom(3000)
        await push_blob(c, "small/app", first)
        # The same bytes again cost nothing: usage counts each blob once per project.
        await push_blob(c, "small/other", first)
        r = await c.post(
            "/v2/small/app/blobs/uploads/",
            params={"digest": digest_of(b"x" * 3000)},
            content=b"x" * 3000,
        )
        assert r.status_code == 403
        assert r.json()["errors"][0]["code"] == "DENIED"
        assert "exceed the configured upper limit" in r.json()["errors"][0]["message"]
        assert (await c.head(f"/v2/small/app/blobs/{digest_of(b'x' * 3000)}")).status_code == 404
        # A chunked upload is refused as soon as its declared length would not fit.
        location = (await c.post("/v2/small/app/blobs/uploads/")).headers["Location"]
        r = await c.patch(location, content=b"y" * 3000, headers={"Content-Range": "0-2999"})
        assert r.status_code == 403
    async with api(berth) as a:
        quota = (await a.get("/quotas", params={"reference_id": "small"})).json()[0]
        assert quota["used"]["storage"] == 3000
        r = await a.put(f"/quotas/{quota['id']}", json={"hard": {"storage": -1}})
        assert r.status_code == 200
    async with berth.client() as c:
        r = await c.post(
            "/v2/small/app/blobs/uploads/",
            params={"digest": digest_of(b"x" * 3000)},
            content=b"x" * 3000,
        )
        assert r.status_code == 201


async def test_concurrent_pushes_do_not_overshoot_the_quota(berth: Berth) -> None:
    async with api(berth) as a:
        await a.post("/projects", json={"project_name": "race", "storage_limit": 10_000})
    async with berth.client() as c:
        blobs = [os.urandom(3000) for _ in range(8)]
        results = await asyncio.gather(
            *(
                c.post("/v2/race/app/blobs/uploads/", params={"digest": digest_of(b)}, content=b)
                for b in blobs
            )
        )
        assert sorted(r.status_code for r in results) == [201, 201, 201, 403, 403, 403, 403, 403]
    async with api(berth) as a:
        quota = (await a.get("/quotas", params={"reference_id": "race"})).json()[0]
        assert quota["used"]["storage"] == 9000


async def test_statistics_and_search(berth: Berth) -> None:
    await make_project(berth, "hidden")
    async with berth.client() as c:
        await push_image(c, "library/findme", "v1")
        await push_image(c, "hidden/findme", "v1")
    async with api(berth) as a:
        stats = (await a.get("/statistics")).json()
        assert stats["total_project_count"] == 2
        assert stats["total_repo_count"] == 2
        assert stats["total_storage_consumption"] > 0
        found = (await a.get("/search", params={"q": "findme"})).json()
        assert {r["repository_name"] for r in found["repository"]} == {
            "library/findme",
            "hidden/findme",
        }
    async with api(berth, None) as anon:
        found = (await anon.get("/search", params={"q": "findme"})).json()
        assert {r["repository_name"] for r in found["repository"]} == {"library/findme"}


async def test_deleting_artifacts_frees_their_quota(berth: Berth) -> None:
    async with api(berth) as a:
        await a.post("/projects", json={"project_name": "freed", "storage_limit": 100_000})
    async with berth.client() as c:
        first, _ = await push_image(c, "freed/app", "v1", seed="one")
        await push_image(c, "freed/app", "v2", seed="two")
    async with api(berth) as a:
        used = (await a.get("/quotas", params={"reference_id": "freed"})).json()[0]["used"]
        assert used["storage"] > 0
    async with berth.client() as c:
        assert (await c.delete(f"/v2/freed/app/manifests/{first}")).status_code == 202
    async with api(berth) as a:
        after_one = (await a.get("/quotas", params={"reference_id": "freed"})).json()[0]["used"]
        assert 0 < after_one["storage"] < used["storage"]
        assert (await a.delete("/projects/freed/repositories/app")).status_code == 200
        after_all = (await a.get("/quotas", params={"reference_id": "freed"})).json()[0]["used"]
        assert after_all["storage"] == 0
