"""The management API driven the way a Harbor user scripts it, with skopeo doing the pushes:
a quota that refuses a push and frees room on delete, a copy between projects, and an
immutable tag that refuses a re-push."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e._oci import OCI_MANIFEST, build_image, sha256, write_layout
from tests.e2e._servers import Registry
from tests.e2e._tools import Toolbox

pytestmark = pytest.mark.e2e


def _api(registry: Registry) -> httpx.Client:
    return httpx.Client(
        base_url=f"{registry.url}/api/v2.0",
        auth=(registry.username, registry.password),
        timeout=60,
    )


def _push(
    toolbox: Toolbox, registry: Registry, tmp_path: Path, name: str, ref: str
) -> tuple[bool, str]:
    image = build_image("amd64", 2)
    layout = tmp_path / f"layout-{name.replace('/', '-')}-{ref}"
    blobs = {**image.blobs, sha256(image.manifest): image.manifest}
    write_layout(layout, blobs, image.manifest, OCI_MANIFEST, ref)
    outcome = toolbox.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--dest-creds",
            registry.creds,
            "--dest-tls-verify=false",
            f"oci:{layout}:{ref}",
            f"docker://{registry.host}/{name}:{ref}",
        ],
        check=False,
    )
    return outcome.returncode == 0, outcome.stderr + outcome.text


def _used(api: httpx.Client, project: str) -> int:
    quota = api.get("/quotas", params={"reference_id": project}).json()[0]
    used: int = quota["used"]["storage"]
    return used


def test_quota_copy_and_immutability(registry: Registry, toolbox: Toolbox, tmp_path: Path) -> None:
    # Images here are two random layers of up to ~200 KiB each: one fits in 600 KB, two do not.
    with _api(registry) as api:
        r = api.post("/projects", json={"project_name": "e2e-quota", "storage_limit": 600_000})
        assert r.status_code == 201, r.text
        r = api.post(
            "/projects", json={"project_name": "e2e-dest", "metadata": {"public": "false"}}
        )
        assert r.status_code == 201, r.text

    ok, text = _push(toolbox, registry, tmp_path, "e2e-quota/app", "1")
    assert ok, text
    refused = None
    for attempt in range(2, 6):
        ok, text = _push(toolbox, registry, tmp_path, "e2e-quota/app", str(attempt))
        if not ok:
            refused = text
            break
    assert refused is not None, "the quota never refused a push"
    assert "exceed the configured upper limit" in refused, refused

    with _api(registry) as api:
        before = _used(api, "e2e-quota")
        assert before <= 600_000
        tags = api.get("/projects/e2e-quota/repositories/app/artifacts").json()
        for artifact in tags:
            r = api.delete(f"/projects/e2e-quota/repositories/app/artifacts/{artifact['digest']}")
            assert r.status_code == 200, r.text
        # What stays counted are the layers of the refused push that did get in before the
        # refusal: no artifact names them, and garbage collection reclaims them.
        assert _used(api, "e2e-quota") < before

    ok, text = _push(toolbox, registry, tmp_path, "e2e-quota/app", "again")
    assert ok, text

    with _api(registry) as api:
        r = api.post(
            "/projects/e2e-dest/repositories/copied/artifacts",
            params={"from": "e2e-quota/app:again"},
        )
        assert r.status_code == 201, r.text
        source = api.get("/projects/e2e-quota/repositories/app/artifacts/again").json()["digest"]
    inspected = toolbox.run(
        [
            "skopeo",
            "inspect",
            "--creds",
            registry.creds,
            "--tls-verify=false",
            f"docker://{registry.host}/e2e-dest/copied:again",
        ]
    )
    assert json.loads(inspected.stdout)["Digest"] == source

    with _api(registry) as api:
        r = api.post(
            "/projects/e2e-dest/immutabletagrules",
            json={
                "action": "immutable",
                "template": "immutable_template",
                "tag_selectors": [
                    {"kind": "doublestar", "decoration": "matches", "pattern": "again"}
                ],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            },
        )
        assert r.status_code == 201, r.text
    ok, text = _push(toolbox, registry, tmp_path, "e2e-dest/copied", "again")
    assert not ok, "a re-push of an immutable tag was accepted"
    assert "immutable" in text, text
    # Other tags in the repository stay writable.
    ok, text = _push(toolbox, registry, tmp_path, "e2e-dest/copied", "other")
    assert ok, text
