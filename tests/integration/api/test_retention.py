"""Tag retention through Harbor's /retentions API, executions run by a real Celery worker."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psutil
import pytest

from registry.services import retention
from tests.integration.api.conftest import Berth, wait_for_job
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user

Worker = subprocess.Popen[bytes]
TAGS = ["v1", "v2", "v3", "v4", "v5"]


@pytest.fixture(autouse=True)
async def no_jobs(berth: Berth) -> None:
    """Job records and schedules outlive the per-test truncation of the API tables, and policy
    ids start again at 1: clear them, so a policy never sees another test's executions."""
    await berth.app.state.backends.db.execute("TRUNCATE jobs, schedules CASCADE")


def rule(
    template: str = "latestPushedK",
    value: int | None = 2,
    *,
    tags: str = "**",
    untagged: bool = False,
    repositories: str = "**",
    repository_decoration: str = "repoMatches",
) -> dict[str, Any]:
    return {
        "disabled": False,
        "action": "retain",
        "template": template,
        "params": {} if value is None else {template: value},
        "tag_selectors": [
            {
                "kind": "doublestar",
                "decoration": "matches",
                "pattern": tags,
                "extras": f'{{"untagged":{str(untagged).lower()}}}',
            }
        ],
        "scope_selectors": {
            "repository": [
                {"kind": "doublestar", "decoration": repository_decoration, "pattern": repositories}
            ]
        },
    }


def policy(project_id: int, *rules: dict[str, Any], cron: str = "") -> dict[str, Any]:
    return {
        "algorithm": "or",
        "rules": list(rules),
        "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
        "scope": {"level": "project", "ref": project_id},
    }


async def create_policy(a: httpx.AsyncClient, body: dict[str, Any]) -> int:
    r = await a.post("/retentions", json=body)
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


async def push_tags(berth: Berth, repository: str, tags: list[str]) -> dict[str, str]:
    """Push one different image per tag, in order; tag → digest."""
    digests = {}
    async with berth.client() as c:
        for tag in tags:
            digests[tag], _ = await push_image(c, repository, tag, seed=f"{repository}:{tag}")
    return digests


async def run_execution(berth: Berth, policy_id: int, *, dry_run: bool) -> dict[str, Any]:
    async with api(berth) as a:
        r = await a.post(f"/retentions/{policy_id}/executions", json={"dry_run": dry_run})
        assert r.status_code == 201, r.text
        location = r.headers["Location"]
    assert location.startswith(f"/api/v2.0/retentions/{policy_id}/executions/")
    return await wait_for_job(berth, location, within=120)


async def tasks_and_logs(
    berth: Berth, policy_id: int, execution_id: int
) -> list[tuple[dict[str, Any], str]]:
    async with api(berth) as a:
        r = await a.get(f"/retentions/{policy_id}/executions/{execution_id}/tasks")
        assert r.status_code == 200, r.text
        found = []
        for task in r.json():
            path = f"/retentions/{policy_id}/executions/{execution_id}/tasks/{task['id']}"
            log = await a.get(path)
            assert log.status_code == 200, log.text
            assert log.headers["content-type"].startswith("text/plain")
            assert (await a.get(f"{path}/log")).text == log.text
            found.append((task, log.text))
        return found


def outcome_lines(log: str, outcome: str) -> list[str]:
    return [line for line in log.splitlines() if f"] {outcome.upper()} " in line]


async def manifest_status(berth: Berth, repository: str, reference: str) -> int:
    async with berth.client() as c:
        return (await c.get(f"/v2/{repository}/manifests/{reference}")).status_code


async def test_latest_pushed_dry_run_then_real_run(berth: Berth, job_worker: Worker) -> None:
    project_id = await make_project(berth, "ret")
    digests = await push_tags(berth, "ret/app", TAGS)
    async with api(berth) as a:
        policy_id = await create_policy(a, policy(project_id, rule("latestPushedK", 2)))
        r = await a.get(f"/retentions/{policy_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == policy_id
        assert body["algorithm"] == "or"
        assert body["scope"] == {"level": "project", "ref": project_id}
        assert body["trigger"] == {"kind": "Schedule", "settings": {"cron": ""}}
        assert body["rules"][0]["template"] == "latestPushedK"
        assert body["rules"][0]["params"] == {"latestPushedK": 2}
        project = (await a.get(f"/projects/{project_id}")).json()
        assert project["metadata"]["retention_id"] == str(policy_id)

    dry = await run_execution(berth, policy_id, dry_run=True)
    assert dry["status"] == "Success", dry
    assert dry["dry_run"] is True
    assert dry["policy_id"] == policy_id
    assert dry["trigger"] == "MANUAL"
    for tag in TAGS:
        assert await manifest_status(berth, "ret/app", tag) == 200
    ((task, log),) = await tasks_and_logs(berth, policy_id, dry["id"])
    assert task["repository"] == "app"
    assert task["execution_id"] == dry["id"]
    assert (task["status"], task["total"], task["retained"]) == ("Success", 5, 2)
    would = outcome_lines(log, "would delete")
    assert len(would) == 3
    assert all(any(digests[t] in line for line in would) for t in ("v1", "v2", "v3"))
    assert len(outcome_lines(log, "retained")) == 2

    real = await run_execution(berth, policy_id, dry_run=False)
    assert real["status"] == "Success", real
    assert real["dry_run"] is False
    for tag in ("v1", "v2", "v3"):
        assert await manifest_status(berth, "ret/app", tag) == 404
    for tag in ("v4", "v5"):
        assert await manifest_status(berth, "ret/app", tag) == 200
    async with berth.client() as c:
        assert (await c.get("/v2/ret/app/tags/list")).json()["tags"] == ["v4", "v5"]
    ((task, log),) = await tasks_and_logs(berth, policy_id, real["id"])
    assert (task["status"], task["total"], task["retained"]) == ("Success", 5, 2)
    deleted = outcome_lines(log, "deleted")
    retained = outcome_lines(log, "retained")
    assert sorted(d for t, d in digests.items() if any(d in line for line in deleted)) == sorted(
        digests[t] for t in ("v1", "v2", "v3")
    )
    assert all(any(digests[t] in line for line in retained) for t in ("v4", "v5"))
    assert "tags=v5" in retained[0]  # most recently pushed first

    async with api(berth) as a:
        r = await a.get(f"/retentions/{policy_id}/executions")
        assert r.status_code == 200
        assert r.headers["X-Total-Count"] == "2"
        assert [e["id"] for e in r.json()] == [real["id"], dry["id"]]
        assert all(e["end_time"] != "0001-01-01T00:00:00Z" for e in r.json())
        page = await a.get(f"/retentions/{policy_id}/executions", params={"page_size": 1})
        assert [e["id"] for e in page.json()] == [real["id"]]
        assert 'rel="next"' in page.headers["Link"]
        # What the retention deleted is audited.
        deadline = time.monotonic() + 5
        while True:
            logs = (await a.get("/audit-logs", params={"q": "username=retention"})).json()
            if len(logs) == 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert {(log["operation"], log["resource_type"]) for log in logs} == {
            ("delete", "artifact")
        }
        assert len(logs) == 3


async def test_immutable_tags_are_kept_and_reported(berth: Berth, job_worker: Worker) -> None:
    project_id = await make_project(berth, "locked")
    digests = await push_tags(berth, "locked/app", TAGS)
    async with api(berth) as a:
        r = await a.post(
            "/projects/locked/immutabletagrules",
            json={
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v1"}],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            },
        )
        assert r.status_code == 201, r.text
        policy_id = await create_policy(a, policy(project_id, rule("latestPushedK", 2)))
    execution = await run_execution(berth, policy_id, dry_run=False)
    assert execution["status"] == "Success", execution
    assert await manifest_status(berth, "locked/app", "v1") == 200
    for tag in ("v2", "v3"):
        assert await manifest_status(berth, "locked/app", tag) == 404
    ((task, log),) = await tasks_and_logs(berth, policy_id, execution["id"])
    assert (task["total"], task["retained"]) == (5, 3)
    (kept,) = outcome_lines(log, "immutable")
    assert digests["v1"] in kept
    assert "immutable tag v1" in kept


async def test_scope_untagged_and_or_of_rules(berth: Berth) -> None:
    """Run in-process through the service function, as the job does per repository."""
    project_id = await make_project(berth, "mixed")
    app = await push_tags(berth, "mixed/app", ["release-1", "dev-1", "dev-2", "dev-3"])
    tmp = await push_tags(berth, "mixed/tmp/scratch", ["a", "b"])
    async with berth.client() as c:
        untagged, _ = await push_image(c, "mixed/app", seed="untagged")
    async with api(berth) as a:
        policy_id = await create_policy(
            a,
            policy(
                project_id,
                rule(
                    "always",
                    None,
                    tags="release-*",
                    repositories="tmp/**",
                    repository_decoration="repoExcludes",
                ),
                rule(
                    "latestPushedK",
                    1,
                    tags="dev-*",
                    repositories="tmp/**",
                    repository_decoration="repoExcludes",
                ),
            ),
        )
    b = berth.app.state.backends
    loaded = await retention.load_policy(b, policy_id)
    assert loaded is not None
    lines: list[str] = []

    async def log(message: str) -> None:
        lines.append(message)

    project = await retention.project_of(b, loaded)
    in_scope = await retention.repositories_in_scope(b, loaded)
    assert [r.name for r in in_scope] == ["mixed/app"]  # tmp/** is excluded
    (repository,) = in_scope
    dry = await retention.apply_to_repository(b, loaded, project, repository, dry_run=True, log=log)
    outcomes = {a.digest: a.outcome for a in dry.artifacts}
    assert outcomes == {
        app["release-1"]: retention.RETAINED,
        app["dev-3"]: retention.RETAINED,
        app["dev-1"]: retention.WOULD_DELETE,
        app["dev-2"]: retention.WOULD_DELETE,
        untagged: retention.WOULD_DELETE,  # no rule selects untagged artifacts
    }
    assert any("WOULD DELETE" in line and untagged in line for line in lines)

    real = await retention.apply_to_repository(
        b, loaded, project, repository, dry_run=False, log=log
    )
    assert real.deleted == 3
    assert await manifest_status(berth, "mixed/app", untagged) == 404
    assert await manifest_status(berth, "mixed/app", "dev-3") == 200
    assert await manifest_status(berth, "mixed/app", "release-1") == 200
    for tag in tmp:
        assert await manifest_status(berth, "mixed/tmp/scratch", tag) == 200


def stop_after(checks: int) -> Callable[[], Awaitable[bool]]:
    """A stop request that arrives once the run has asked ``checks`` times."""
    asked = 0

    async def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > checks

    return should_stop


async def test_a_stopped_run_leaves_the_rest_alone(berth: Berth) -> None:
    project_id = await make_project(berth, "halt")
    await push_tags(berth, "halt/app", TAGS)
    async with api(berth) as a:
        policy_id = await create_policy(a, policy(project_id, rule("latestPushedK", 1)))
    b = berth.app.state.backends
    loaded = await retention.load_policy(b, policy_id)
    assert loaded is not None
    project = await retention.project_of(b, loaded)
    (repository,) = await retention.repositories_in_scope(b, loaded)
    # Asked before each deletion: two go ahead, the third is refused.
    result = await retention.apply_to_repository(
        b, loaded, project, repository, dry_run=False, should_stop=stop_after(2)
    )
    assert result.stopped
    assert [a.outcome for a in result.artifacts] == [
        retention.RETAINED,
        retention.DELETED,
        retention.DELETED,
    ]
    remaining = [t for t in TAGS if await manifest_status(berth, "halt/app", t) == 200]
    assert remaining == ["v1", "v2", "v5"]


async def test_stop_an_execution(berth: Berth, job_worker: Worker) -> None:
    project_id = await make_project(berth, "stopped")
    await push_tags(berth, "stopped/app", TAGS)
    async with api(berth) as a:
        policy_id = await create_policy(a, policy(project_id, rule("latestPushedK", 1)))
        # Freeze the worker so the execution is still waiting when the stop arrives: `berth
        # worker` and the Celery process it supervises, which is where jobs run.
        frozen = [psutil.Process(job_worker.pid)]
        frozen += frozen[0].children(recursive=True)
        assert len(frozen) > 1, "berth worker runs no child process"
        for process in frozen:
            process.suspend()
        try:
            r = await a.post(f"/retentions/{policy_id}/executions", json={"dry_run": False})
            assert r.status_code == 201, r.text
            location = r.headers["Location"]
            execution_id = int(location.rsplit("/", 1)[1])
            path = f"/retentions/{policy_id}/executions/{execution_id}"
            assert (await a.patch(path, json={"action": "pause"})).status_code == 400
            assert (await a.patch(path, json={"action": "stop"})).status_code == 200
        finally:
            for process in frozen:
                process.resume()
        execution = await wait_for_job(berth, location)
        assert execution["status"] == "Stopped"
        # The worker gets the job now and must leave it alone.
        await asyncio.sleep(2)
        assert (await a.get(path)).json()["status"] == "Stopped"
        assert (await a.get(f"{path}/tasks")).json() == []
        # Stopping a finished execution changes nothing.
        assert (await a.patch(path, json={"action": "stop"})).status_code == 200
        assert (
            await a.patch(f"/retentions/{policy_id}/executions/999999", json={"action": "stop"})
        ).status_code == 404
    for tag in TAGS:
        assert await manifest_status(berth, "stopped/app", tag) == 200


async def test_permissions(berth: Berth) -> None:
    project_id = await make_project(berth, "perm")
    for name, role in (("padmin", 1), ("maint", 4), ("dev", 2), ("guesty", 3)):
        await make_user(berth, name)
        await add_member(berth, "perm", name, role)
    await make_user(berth, "outsider")
    body = policy(project_id, rule())

    def as_user(name: str) -> httpx.AsyncClient:
        return api(berth, (name, PASSWORD))

    async with api(berth, None) as anonymous:
        assert (await anonymous.get("/retentions/metadatas")).status_code == 401
        assert (await anonymous.post("/retentions", json=body)).status_code == 401
    async with as_user("outsider") as outsider:
        r = await outsider.get("/retentions/metadatas")
        assert r.status_code == 200
        assert r.json()["templates"][0]["rule_template"] == "latestPushedK"
        assert (await outsider.post("/retentions", json=body)).status_code == 403
    for name in ("maint", "dev", "guesty"):
        async with as_user(name) as member:
            assert (await member.post("/retentions", json=body)).status_code == 403
    async with as_user("padmin") as padmin:
        policy_id = await create_policy(padmin, body)
        assert (
            await padmin.put(
                f"/retentions/{policy_id}", json=policy(project_id, rule("always", None))
            )
        ).status_code == 200
        assert (await padmin.get(f"/retentions/{policy_id}")).json()["rules"][0][
            "template"
        ] == "always"
        assert (await padmin.get(f"/retentions/{policy_id}/executions")).status_code == 200
    for name in ("maint", "dev", "guesty"):
        async with as_user(name) as member:
            assert (await member.get(f"/retentions/{policy_id}")).status_code == 200
            assert (await member.get(f"/retentions/{policy_id}/executions")).status_code == 200
            assert (await member.put(f"/retentions/{policy_id}", json=body)).status_code == 403
            r = await member.post(f"/retentions/{policy_id}/executions", json={"dry_run": True})
            assert r.status_code == 403
            assert (await member.delete(f"/retentions/{policy_id}")).status_code == 403
    async with as_user("outsider") as outsider:
        assert (await outsider.get(f"/retentions/{policy_id}")).status_code == 403
        assert (await outsider.get(f"/retentions/{policy_id}/executions")).status_code == 403
    async with api(berth, None) as anonymous:
        assert (await anonymous.get(f"/retentions/{policy_id}")).status_code == 401
    async with as_user("padmin") as padmin:
        assert (await padmin.delete(f"/retentions/{policy_id}")).status_code == 200
        assert (await padmin.get(f"/retentions/{policy_id}")).status_code == 404
        project = (await padmin.get(f"/projects/{project_id}")).json()
        assert "retention_id" not in project["metadata"]
        # With the old policy gone the project may have a new one.
        await create_policy(padmin, body)
    async with api(berth) as a:
        deadline = time.monotonic() + 5
        while True:
            logs = (await a.get("/audit-logs", params={"q": "resource_type=retention"})).json()
            seen = sorted((log["operation"], log["username"]) for log in logs)
            if len(seen) >= 4 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert seen == [
            ("create", "padmin"),
            ("create", "padmin"),
            ("delete", "padmin"),
            ("update", "padmin"),
        ]


def selector(
    decoration: str = "matches", pattern: str = "**", kind: str = "doublestar"
) -> dict[str, str]:
    return {"kind": kind, "decoration": decoration, "pattern": pattern}


async def test_invalid_policies_are_refused(berth: Berth) -> None:
    project_id = await make_project(berth, "strict")
    bad_rules = [
        dict(rule(), template="keepEverything"),
        dict(rule(), params={"latestPushedK": -1}),
        dict(rule(), params={}),
        dict(rule(), tag_selectors=[]),
        dict(rule(), tag_selectors=[selector(kind="regexp")]),
        dict(rule(), tag_selectors=[selector(decoration="repoMatches")]),
        dict(rule(), tag_selectors=[selector(pattern="[v")]),
        dict(rule(), scope_selectors={"repository": [selector(decoration="matches")]}),
        dict(rule(), scope_selectors={"project": [selector(decoration="repoMatches")]}),
        dict(rule(), action="delete"),
    ]
    async with api(berth) as a:
        for bad in bad_rules:
            r = await a.post("/retentions", json=policy(project_id, bad))
            assert r.status_code == 400, (bad, r.text)
            assert r.json()["errors"][0]["code"] == "BAD_REQUEST"
        for body in (
            policy(project_id, rule(), cron="every day"),
            policy(project_id, *[rule("latestPushedK", n) for n in range(16)]),
            dict(policy(project_id, rule()), scope={"level": "system", "ref": 0}),
            dict(policy(project_id, rule()), scope={"level": "project", "ref": 999999}),
            dict(policy(project_id, rule()), algorithm="and"),
            dict(policy(project_id, rule()), trigger={"kind": "Event", "settings": {}}),
        ):
            r = await a.post("/retentions", json=body)
            assert r.status_code == 400, (body, r.text)
        r = await a.post("/retentions", json=policy(project_id, rule(), rule()))
        assert r.status_code == 409, r.text
        assert (await a.post("/retentions", content=b"[1]")).status_code == 400

        policy_id = await create_policy(a, policy(project_id, rule()))
        r = await a.post("/retentions", json=policy(project_id, rule("always", None)))
        assert r.status_code == 400
        assert "already has" in r.json()["errors"][0]["message"]
        other_id = await make_project(berth, "other")
        r = await a.put(f"/retentions/{policy_id}", json=policy(other_id, rule()))
        assert r.status_code == 400
        r = await a.put(
            f"/retentions/{policy_id}", json=policy(project_id, dict(rule(), template="x"))
        )
        assert r.status_code == 400
        assert (await a.get(f"/retentions/{policy_id}")).json()["rules"][0][
            "template"
        ] == "latestPushedK"
        r = await a.post(f"/retentions/{policy_id}/executions", json={"dry_run": "yes"})
        assert r.status_code == 400
        assert (await a.get("/retentions/abc")).status_code == 400
        assert (await a.get("/retentions/999999")).status_code == 404
        # Ids beyond BIGINT name nothing (and must not reach the database).
        assert (await a.get(f"/retentions/{2**63}")).status_code == 404
        r = await a.get(f"/retentions/{policy_id}/executions/{2**70}/tasks/{2**70}")
        assert r.status_code == 404
        r = await a.post(
            "/retentions",
            json=dict(policy(project_id, rule()), scope={"level": "project", "ref": 2**63}),
        )
        assert r.status_code == 400
        assert (await a.get(f"/retentions/{policy_id}/executions/999999/tasks")).status_code == 404


async def test_the_schedule_follows_the_trigger_and_the_policy(berth: Berth) -> None:
    project_id = await make_project(berth, "sched")
    db = berth.app.state.backends.db

    async def schedule(policy_id: int) -> Any:
        return await db.fetchrow(
            "SELECT schedule_type, cron, parameters, next_run_at FROM schedules "
            "WHERE kind = 'RETENTION' AND owner = $1",
            f"retention:{policy_id}",
        )

    async with api(berth) as a:
        policy_id = await create_policy(a, policy(project_id, rule(), cron="0 0 0 * * *"))
        found = await schedule(policy_id)
        assert (found["schedule_type"], found["cron"]) == ("Custom", "0 0 0 * * *")
        assert found["parameters"] == {"policy_id": policy_id}
        assert found["next_run_at"] is not None
        r = await a.put(
            f"/retentions/{policy_id}", json=policy(project_id, rule(), cron="0 30 2 * * 1")
        )
        assert r.status_code == 200, r.text
        assert (await schedule(policy_id))["cron"] == "0 30 2 * * 1"
        body = (await a.get(f"/retentions/{policy_id}")).json()
        assert body["trigger"]["settings"]["cron"] == "0 30 2 * * 1"
        r = await a.put(f"/retentions/{policy_id}", json=policy(project_id, rule()))
        assert r.status_code == 200
        assert (await schedule(policy_id))["next_run_at"] is None
        r = await a.put(
            f"/retentions/{policy_id}", json=policy(project_id, rule(), cron="0 0 * * * *")
        )
        assert r.status_code == 200

        # Executions are listed per policy; the policy's deletion takes them and its schedule.
        await db.execute(
            "INSERT INTO jobs (kind, status, parameters) VALUES ('RETENTION', 'Success', $1)",
            {"policy_id": policy_id, "dry_run": True},
        )
        listed = (await a.get(f"/retentions/{policy_id}/executions")).json()
        assert [e["status"] for e in listed] == ["Success"]
        assert listed[0]["dry_run"] is True
        assert listed[0]["end_time"] == "0001-01-01T00:00:00Z"  # Harbor's zero time
        assert (await a.delete(f"/projects/{project_id}")).status_code == 200
        assert await schedule(policy_id) is None
        assert await db.fetchval("SELECT count(*) FROM jobs WHERE kind = 'RETENTION'") == 0
