"""tags/list, _catalog and referrers."""

from __future__ import annotations

import json

from tests.integration.api.conftest import Berth
from tests.integration.api.oci import (
    OCI_MANIFEST,
    descriptor,
    digest_of,
    error_code,
    push_blob,
    push_image,
)

STORAGE_DRIVERS = ("filesystem", "s3")


async def test_tags_are_listed_in_lexical_order_with_pagination(berth: Berth) -> None:
    tags = ["b", "a", "C", "a1", "latest", "1.0"]
    async with berth.client() as c:
        _, manifest = await push_image(c, "library/app", "b")
        for tag in tags[1:]:
            r = await c.put(
                f"/v2/library/app/manifests/{tag}",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status_code == 201
        r = await c.get("/v2/library/app/tags/list")
        assert r.json() == {"name": "library/app", "tags": sorted(tags)}
        assert "Link" not in r.headers
        r = await c.get("/v2/library/app/tags/list", params={"n": 2})
        assert r.json()["tags"] == sorted(tags)[:2]
        assert (
            r.headers["Link"]
            == f'</v2/library/app/tags/list?n=2&last={sorted(tags)[1]}>; rel="next"'
        )
        seen = []
        url = "/v2/library/app/tags/list?n=4"
        while url:
            r = await c.get(url)
            seen += r.json()["tags"]
            url = r.headers.get("Link", "").partition("<")[2].partition(">")[0]
        assert seen == sorted(tags)
        r = await c.get("/v2/library/app/tags/list", params={"n": "-1"})
        assert r.status_code == 400
        r = await c.get("/v2/library/nothing/tags/list")
        assert r.status_code == 404
        assert error_code(r) == "NAME_UNKNOWN"


async def test_a_repository_whose_tags_are_all_gone_lists_none(berth: Berth) -> None:
    async with berth.client() as c:
        await push_image(c, "library/untagged", "only")
        r = await c.delete("/v2/library/untagged/manifests/only")
        assert r.status_code == 202, r.text
        r = await c.get("/v2/library/untagged/tags/list")
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "library/untagged", "tags": []}
        # Past the last tag of a tagged repository: an empty page, not an unknown name.
        await push_image(c, "library/tagged", "v1")
        r = await c.get("/v2/library/tagged/tags/list", params={"last": "v1"})
        assert r.json() == {"name": "library/tagged", "tags": []}


async def test_catalog_pages_and_is_for_admins(berth: Berth) -> None:
    async with berth.client() as c:
        for name in ("library/zeta", "library/alpha", "library/mid/nested/deep"):
            await push_image(c, name, "v1")
        r = await c.get("/v2/_catalog")
        assert r.json() == {
            "repositories": ["library/alpha", "library/mid/nested/deep", "library/zeta"]
        }
        r = await c.get("/v2/_catalog", params={"n": 1})
        assert r.json() == {"repositories": ["library/alpha"]}
        assert 'rel="next"' in r.headers["Link"]
        r = await c.get("/v2/_catalog", params={"n": 5, "last": "library/alpha"})
        assert r.json()["repositories"] == ["library/mid/nested/deep", "library/zeta"]
    async with berth.client(auth=None) as anon:
        r = await anon.get("/v2/_catalog")
        assert r.status_code == 401


async def test_referrers_with_artifact_type_filter(berth: Berth) -> None:
    async with berth.client() as c:
        subject_digest, subject = await push_image(c, "library/app", "v1")
        empty = await push_blob(c, "library/app", b"{}")
        refs = {}
        for kind in ("application/vnd.example.sbom", "application/vnd.example.signature"):
            payload = kind.encode()
            await push_blob(c, "library/app", payload)
            body = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "artifactType": kind,
                    "config": {
                        "mediaType": "application/vnd.oci.empty.v1+json",
                        "digest": empty,
                        "size": 2,
                    },
                    "layers": [descriptor("application/octet-stream", payload)],
                    "subject": descriptor(OCI_MANIFEST, subject),
                    "annotations": {"org.example.kind": kind},
                }
            ).encode()
            r = await c.put(
                f"/v2/library/app/manifests/{digest_of(body)}",
                content=body,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert r.status_code == 201, r.text
            assert r.headers["OCI-Subject"] == subject_digest
            refs[kind] = (digest_of(body), len(body))
        r = await c.get(f"/v2/library/app/referrers/{subject_digest}")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
        index = r.json()
        assert index["schemaVersion"] == 2
        assert {m["digest"] for m in index["manifests"]} == {d for d, _ in refs.values()}
        for m in index["manifests"]:
            assert refs[m["artifactType"]] == (m["digest"], m["size"])
            assert m["annotations"] == {"org.example.kind": m["artifactType"]}
        r = await c.get(
            f"/v2/library/app/referrers/{subject_digest}",
            params={"artifactType": "application/vnd.example.sbom"},
        )
        assert r.headers["OCI-Filters-Applied"] == "artifactType"
        assert [m["digest"] for m in r.json()["manifests"]] == [
            refs["application/vnd.example.sbom"][0]
        ]
        # Unknown subject: an empty index, not an error.
        r = await c.get(f"/v2/library/app/referrers/{digest_of(b'none')}")
        assert r.status_code == 200
        assert r.json()["manifests"] == []
        r = await c.get("/v2/library/app/referrers/sha256:short")
        assert r.status_code == 400
