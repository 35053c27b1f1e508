"""Tag-level retention (``"mode": "tag"``): each tag is judged on its own and only tags go;
the artifacts stay. Harbor's artifact-level mode stays the default. Executions run on a real
Celery worker."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.api.conftest import Berth
from tests.integration.api.harbor import harbor
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import api, make_project
from tests.integration.api.test_retention import (
    create_policy,
    manifest_status,
    policy,
    rule,
    run_execution,
    tasks_and_logs,
)

Worker = subprocess.Popen[bytes]


@pytest.fixture(autouse=True)
async def no_jobs(berth: Berth) -> None:
    await berth.app.state.backends.db.execute("TRUNCATE jobs, schedules CASCADE")


async def _push(berth: Berth) -> tuple[str, str]:
    """``old`` on one artifact, then v1, v2 and v3 on another, in that order."""
    async with berth.client() as c:
        old, _ = await push_image(c, "ret/app", "old", seed="old")
        for tag in ("v1", "v2", "v3"):
            shared, _ = await push_image(c, "ret/app", tag, seed="shared")
    return old, shared


async def _tags(berth: Berth) -> list[str]:
    async with api(berth) as a:
        r = await a.get("/projects/ret/repositories/app/artifacts", params={"with_tag": "true"})
        assert r.status_code == 200, r.text
        return sorted(t["name"] for art in r.json() for t in art.get("tags") or [])


async def test_tag_mode_removes_tags_and_keeps_artifacts(berth: Berth, job_worker: Worker) -> None:
    project_id = await make_project(berth, "ret")
    old, shared = await _push(berth)
    body = {**policy(project_id, rule("latestPushedK", 1)), "mode": "tag"}
    async with api(berth) as a:
        policy_id = await create_policy(a, body)
        shown = (await a.get(f"/retentions/{policy_id}")).json()
        assert shown["mode"] == "tag"
    async with harbor(berth) as client:
        parsed = await client.get_retention_policy(policy_id)
        assert parsed.rules is not None
        assert len(parsed.rules) == 1

    dry = await run_execution(berth, policy_id, dry_run=True)
    assert dry["status"] == "Success"
    assert await _tags(berth) == ["old", "v1", "v2", "v3"]

    done = await run_execution(berth, policy_id, dry_run=False)
    assert done["status"] == "Success"
    assert await _tags(berth) == ["v3"]
    # Both artifacts are still there, by digest.
    assert await manifest_status(berth, "ret/app", old) == 200
    assert await manifest_status(berth, "ret/app", shared) == 200
    assert await manifest_status(berth, "ret/app", "v1") == 404
    [(task, log)] = await tasks_and_logs(berth, policy_id, done["id"])
    assert task["total"] == 4
    assert task["retained"] == 1
    assert "tag removed; the artifact stays" in log


async def test_artifact_mode_stays_the_default(berth: Berth, job_worker: Worker) -> None:
    project_id = await make_project(berth, "ret")
    old, shared = await _push(berth)
    async with api(berth) as a:
        policy_id = await create_policy(a, policy(project_id, rule("latestPushedK", 1)))
        assert (await a.get(f"/retentions/{policy_id}")).json()["mode"] == "artifact"
        r = await a.put(
            f"/retentions/{policy_id}",
            json={**policy(project_id, rule("latestPushedK", 1)), "mode": "sometimes"},
        )
        assert r.status_code == 400, r.text
    done = await run_execution(berth, policy_id, dry_run=False)
    assert done["status"] == "Success"
    assert await _tags(berth) == ["v1", "v2", "v3"]
    assert await manifest_status(berth, "ret/app", old) == 404
    assert await manifest_status(berth, "ret/app", shared) == 200
