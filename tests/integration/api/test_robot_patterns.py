"""Robot permissions limited to repositories by a pattern (``namespace: "team/app-*"``): skopeo
pushes and pulls only where the pattern matches, tokens grant nothing elsewhere, and the
management API answers the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e._oci import OCI_MANIFEST, build_image, write_layout
from tests.e2e._tools import Toolbox
from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import api


@pytest.fixture
def toolbox(tmp_path: Path) -> Iterator[Toolbox]:
    box = Toolbox(tmp_path / "tools")
    try:
        yield box
    finally:
        box.close()


async def _pattern_robot(berth: Berth) -> tuple[str, str]:
    async with api(berth) as a:
        r = await a.post(
            "/robots",
            json={
                "name": "ci",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "team/app-*",
                        "access": [
                            {"resource": "repository", "action": "pull"},
                            {"resource": "repository", "action": "push"},
                            {"resource": "artifact", "action": "read"},
                        ],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        robot = (await a.get(f"/robots/{created['id']}")).json()
        assert robot["permissions"][0]["namespace"] == "team/app-*"
        return created["name"], created["secret"]


async def _skopeo(toolbox: Toolbox, *argv: str) -> tuple[int, str]:
    outcome = await asyncio.to_thread(toolbox.run, ["skopeo", *argv], check=False)
    return outcome.returncode, outcome.stderr


async def test_skopeo_push_and_pull_only_where_the_pattern_matches(
    berth: Berth, toolbox: Toolbox, tmp_path: Path
) -> None:
    await create_project(berth, "team")
    name, secret = await _pattern_robot(berth)
    creds = f"{name}:{secret}"
    host = berth.url.removeprefix("http://")
    image = build_image("amd64", 1)
    layout = tmp_path / "layout"
    blobs = {**image.blobs, image.digest: image.manifest}
    write_layout(layout, blobs, image.manifest, OCI_MANIFEST, "v1")

    def push(repository: str) -> tuple[str, ...]:
        return (
            "copy",
            "--dest-creds",
            creds,
            "--dest-tls-verify=false",
            f"oci:{layout}:v1",
            f"docker://{host}/team/{repository}:v1",
        )

    code, err = await _skopeo(toolbox, *push("app-web"))
    assert code == 0, err
    code, err = await _skopeo(toolbox, *push("db"))
    assert code != 0
    assert "denied" in err.lower() or "unauthorized" in err.lower(), err
    # A nested path is not matched by a single-segment star.
    code, err = await _skopeo(toolbox, *push("app-web/extra"))
    assert code != 0, err

    async with berth.client() as admin:
        await push_image(admin, "team/db", "v1", seed="db")
    for repository, allowed in (("app-web", True), ("db", False)):
        code, err = await _skopeo(
            toolbox,
            "inspect",
            "--raw",
            "--creds",
            creds,
            "--tls-verify=false",
            f"docker://{host}/team/{repository}:v1",
        )
        assert (code == 0) is allowed, (repository, err)

    async with berth.client((name, secret)) as registry:
        r = await registry.get("/v2/team/db/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert r.status_code in (401, 403), r.text
        r = await registry.get("/v2/team/app-web/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200, r.text
    async with api(berth, (name, secret)) as a:
        r = await a.get("/projects/team/repositories/app-web/artifacts")
        assert r.status_code == 200, r.text
        assert len(r.json()) == 1
        r = await a.get("/projects/team/repositories/db/artifacts")
        assert r.status_code == 403, r.text
        r = await a.get("/projects/team/repositories/db/artifacts/v1")
        assert r.status_code == 403, r.text


async def test_a_malformed_pattern_is_refused(berth: Berth) -> None:
    await create_project(berth, "team")
    async with api(berth) as a:
        r = await a.post(
            "/robots",
            json={
                "name": "bad",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "team/app-[",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        assert r.status_code == 400, r.text


async def test_the_robot_lists_the_repositories_its_pattern_matches(berth: Berth) -> None:
    await create_project(berth, "team")
    await create_project(berth, "other")
    async with berth.client() as admin:
        for repository in ("team/app-web", "team/app-api", "team/db", "other/app-x"):
            await push_image(admin, repository, "v1", seed=repository)
    name, secret = await _pattern_robot(berth)

    async with api(berth, (name, secret)) as a:
        r = await a.get("/projects/team/repositories")
        assert r.status_code == 200, r.text
        assert sorted(repo["name"] for repo in r.json()) == ["team/app-api", "team/app-web"]
        assert r.headers["x-total-count"] == "2"
        r = await a.get("/projects/team/repositories", params={"page_size": 1})
        assert len(r.json()) == 1
        assert r.headers["x-total-count"] == "2"
        # Nothing of a project it holds no permission in.
        r = await a.get("/projects/other/repositories")
        assert r.status_code == 403, r.text

    # The catalog, through the token service as docker and oras ask for it.
    async with berth.client((name, secret)) as registry:
        r = await registry.get("/v2/_catalog")
        assert r.status_code == 200, r.text
        assert r.json() == {"repositories": ["team/app-api", "team/app-web"]}
        r = await registry.get("/v2/_catalog", params={"n": 1})
        assert r.json() == {"repositories": ["team/app-api"]}
        assert 'rel="next"' in r.headers["Link"]
        r = await registry.get("/v2/_catalog", params={"n": 5, "last": "team/app-api"})
        assert r.json() == {"repositories": ["team/app-web"]}
