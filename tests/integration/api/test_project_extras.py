"""Harbor's project metadata API (one key at a time), the summary's quota, the project-wide
artifact list and ``_deletable``, driven by harborapi."""

from __future__ import annotations

import pytest
from harborapi.exceptions import BadRequest, Conflict, Forbidden, NotFound
from harborapi.models import ProjectMetadata

from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.harbor import harbor
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, api, make_user


async def test_metadata_one_key_at_a_time(berth: Berth) -> None:
    await create_project(berth, "team")
    async with harbor(berth) as client:
        listed = await client.get_project_metadata("team")
        assert listed.public == "false"
        await client.set_project_metadata("team", ProjectMetadata(auto_scan="true"))
        assert await client.get_project_metadata_entry("team", "auto_scan") == {"auto_scan": "true"}
        with pytest.raises(Conflict):
            await client.set_project_metadata("team", ProjectMetadata(auto_scan="false"))
        # Harbor takes exactly one pair per request.
        with pytest.raises(BadRequest):
            await client.set_project_metadata(
                "team", ProjectMetadata(severity="high", prevent_vul="true")
            )
        await client.update_project_metadata_entry("team", "public", {"public": "true"})
        project = await client.get_project("team")
        assert project.metadata is not None
        assert project.metadata.public == "true"
        await client.delete_project_metadata_entry("team", "auto_scan")
        with pytest.raises(NotFound):
            await client.get_project_metadata_entry("team", "auto_scan")
        with pytest.raises(BadRequest):
            await client.update_project_metadata_entry("team", "public", {"public": "maybe"})
    # The change made the project public: anyone may now read it.
    async with berth.raw() as anonymous:
        r = await anonymous.get("/api/v2.0/projects/team/metadatas/public")
        assert r.status_code == 200, r.text
    await make_user(berth, "dev")
    async with harbor(berth, "dev", PASSWORD) as client:
        with pytest.raises(Forbidden):
            await client.update_project_metadata_entry("team", "public", {"public": "false"})


async def test_summary_quota_artifacts_and_deletable(berth: Berth) -> None:
    async with api(berth) as a:
        r = await a.post("/projects", json={"project_name": "team", "storage_limit": 10_000_000})
        assert r.status_code == 201, r.text
    async with harbor(berth) as client:
        summary = await client.get_project_summary("team")
        assert summary.quota is not None
        assert summary.quota.hard is not None
        assert summary.quota.hard.root == {"storage": 10_000_000}
        assert (await client.get_project_deletable("team")).deletable is True
    async with berth.client() as registry:
        first, _ = await push_image(registry, "team/web", "v1", seed="a")
        second, _ = await push_image(registry, "team/web", "v2", seed="b")
        third, _ = await push_image(registry, "team/db/main", "1.0", seed="c")
    async with harbor(berth) as client:
        summary = await client.get_project_summary("team")
        assert summary.repo_count == 2
        assert summary.quota is not None
        assert summary.quota.used is not None
        used = summary.quota.used.root
        assert used is not None
        assert used["storage"] > 0
        artifacts = await client.get_project_artifacts("team", with_tag=True)
        assert [a.digest for a in artifacts] == [third, second, first]
        assert [a.repository_name for a in artifacts] == ["team/db/main", "team/web", "team/web"]
        assert artifacts[0].tags is not None
        assert [t.name for t in artifacts[0].tags] == ["1.0"]
        latest = await client.get(
            "/projects/team/artifacts", params={"latest_in_repository": "true"}
        )
        assert isinstance(latest, list)
        assert {a["digest"] for a in latest} == {third, second}
        only_web = await client.get_project_artifacts("team", query="repository_name=team/web")
        assert [a.digest for a in only_web] == [second, first]
        deletable = await client.get_project_deletable("team")
        assert deletable.deletable is False
        assert deletable.message == "the project contains repositories, can not be deleted"
