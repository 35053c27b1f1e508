"""Webhook policies through /api/v2.0, and deliveries made by a real Celery worker to a real
HTTP endpoint in the test (which can fail its first requests), with Harbor's payloads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.db import webhooks as webhooks_db
from registry.events import PULL_ARTIFACT, PUSH_ARTIFACT, Event, artifact_resource
from registry.rbac import ProjectRef
from registry.services import notify, webhook
from registry.services.secret_storage import WEBHOOK_AUTH_HEADER
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import digest_of, push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project, make_user

Worker = subprocess.Popen[bytes]

AUTH_HEADER = "Bearer hook-secret-4711"
FINISHED = ("Success", "Error", "Stopped")


# --- a webhook endpoint ----------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers 500 to the first ``fail_first`` of them, 200 after."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[Received] = []
        self.url = ""

    async def handle(self, request: Request) -> Response:
        self.requests.append(Received(dict(request.headers), await request.body()))
        if len(self.requests) <= self.fail_first:
            return PlainTextResponse("not now", status_code=500)
        return PlainTextResponse("ok")

    async def wait_for(self, count: int, within: float = 60) -> list[Received]:
        deadline = time.monotonic() + within
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} webhook requests arrived")
            await asyncio.sleep(0.1)
        return list(self.requests)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def receiver(fail_first: int = 0) -> AsyncIterator[Receiver]:
    sink = Receiver(fail_first)
    app = Starlette(routes=[Route("/hook", sink.handle, methods=["POST"])])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    sink.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield sink
    finally:
        server.should_exit = True
        await task


# --- helpers ---------------------------------------------------------------------------------


async def _forget_deliveries(berth: Berth) -> None:
    # The shared fixture does not truncate jobs, and policy ids restart with every test.
    conn = await asyncpg.connect(berth.database_url)
    try:
        await conn.execute("DELETE FROM jobs WHERE kind = 'WEBHOOK'")
    finally:
        await conn.close()


async def stored_targets(berth: Berth, policy_id: int) -> list[dict[str, Any]]:
    """The targets as stored, auth headers included (the API never shows those), opened with
    the server's secret key (they are stored sealed)."""
    conn = await asyncpg.connect(berth.database_url)
    try:
        raw = await conn.fetchval("SELECT targets FROM webhook_policies WHERE id = $1", policy_id)
    finally:
        await conn.close()
    box = berth.app.state.backends.secrets
    targets: list[dict[str, Any]] = [
        {**t, "auth_header": box.reveal(t.get("auth_header") or "", WEBHOOK_AUTH_HEADER)}
        for t in json.loads(raw)
    ]
    return targets


def policy_body(
    name: str, address: str, event_types: tuple[str, ...] = (PUSH_ARTIFACT,), **target: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} hooks",
        "enabled": True,
        "event_types": list(event_types),
        "targets": [{"type": "http", "address": address, **target}],
    }


async def create_policy(berth: Berth, project: str, body: dict[str, Any]) -> int:
    async with api(berth) as a:
        r = await a.post(f"/projects/{project}/webhook/policies", json=body)
        assert r.status_code == 201, r.text
        return int(r.headers["Location"].rsplit("/", 1)[1])


async def wait_for_executions(
    berth: Berth, project: str, policy_id: int, count: int, within: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    path = f"/projects/{project}/webhook/policies/{policy_id}/executions"
    async with api(berth) as a:
        while True:
            r = await a.get(path)
            assert r.status_code == 200, r.text
            executions: list[dict[str, Any]] = r.json()
            if len(executions) >= count and all(e["status"] in FINISHED for e in executions):
                return executions
            if time.monotonic() > deadline:
                raise AssertionError(f"executions did not finish: {executions}")
            await asyncio.sleep(0.2)


# --- policies --------------------------------------------------------------------------------


async def test_policy_crud_keeps_the_auth_header_write_only(berth: Berth) -> None:
    await _forget_deliveries(berth)
    project_id = await make_project(berth, "hooks")
    body = policy_body("ci", "https://ci.example/hook", auth_header=AUTH_HEADER)
    async with api(berth) as a:
        r = await a.post("/projects/hooks/webhook/policies", json=body)
        assert r.status_code == 201, r.text
        location = r.headers["Location"]
        policy_id = int(location.rsplit("/", 1)[1])
        assert location == f"/api/v2.0/projects/{project_id}/webhook/policies/{policy_id}"

        r = await a.get("/projects/hooks/webhook/policies")
        assert r.status_code == 200
        assert r.headers["X-Total-Count"] == "1"
        assert AUTH_HEADER not in r.text
        [listed] = r.json()
        assert listed["id"] == policy_id
        assert listed["name"] == "ci"
        assert listed["description"] == "ci hooks"
        assert listed["project_id"] == project_id
        assert listed["enabled"] is True
        assert listed["creator"] == "admin"
        assert listed["event_types"] == [PUSH_ARTIFACT]
        assert listed["targets"] == [
            {
                "type": "http",
                "address": "https://ci.example/hook",
                "skip_cert_verify": False,
                "payload_format": "Default",
            }
        ]
        assert listed["creation_time"].endswith("Z")
        assert listed["update_time"].endswith("Z")
        by_id = await a.get(f"/projects/{project_id}/webhook/policies/{policy_id}")
        assert by_id.json() == listed

        # A policy sent back as GET shows it (no auth_header) keeps its header.
        changed = {**listed, "name": "ci-2", "enabled": False}
        changed["event_types"] = [PUSH_ARTIFACT, "DELETE_ARTIFACT", "SCANNING_COMPLETED"]
        r = await a.put(f"/projects/hooks/webhook/policies/{policy_id}", json=changed)
        assert r.status_code == 200, r.text
        got = (await a.get(f"/projects/hooks/webhook/policies/{policy_id}")).json()
        assert (got["name"], got["enabled"]) == ("ci-2", False)
        assert got["event_types"] == [PUSH_ARTIFACT, "DELETE_ARTIFACT", "SCANNING_COMPLETED"]
        assert [t["auth_header"] for t in await stored_targets(berth, policy_id)] == [AUTH_HEADER]
        # Sent explicitly, it is replaced (here: cleared); fields left out keep their values.
        target = {**listed["targets"][0], "auth_header": "", "payload_format": "CloudEvents"}
        r = await a.put(f"/projects/hooks/webhook/policies/{policy_id}", json={"targets": [target]})
        assert r.status_code == 200, r.text
        stored = await stored_targets(berth, policy_id)
        assert [(t["auth_header"], t["payload_format"]) for t in stored] == [("", "CloudEvents")]
        assert (await a.get(f"/projects/hooks/webhook/policies/{policy_id}")).json()["name"] == (
            "ci-2"
        )

        # Names are unique per project.
        other = await a.post(
            "/projects/hooks/webhook/policies", json=policy_body("other", "http://x.example/h")
        )
        assert other.status_code == 201
        other_id = int(other.headers["Location"].rsplit("/", 1)[1])
        r = await a.post("/projects/hooks/webhook/policies", json=policy_body("ci-2", "http://y/"))
        assert r.status_code == 409
        assert r.json()["errors"][0]["code"] == "CONFLICT"
        r = await a.put(f"/projects/hooks/webhook/policies/{other_id}", json={"name": "ci-2"})
        assert r.status_code == 409

        r = await a.get("/projects/hooks/webhook/policies", params={"q": "name=~oth"})
        assert [p["name"] for p in r.json()] == ["other"]
        r = await a.get("/projects/hooks/webhook/policies", params={"sort": "-id", "page_size": 1})
        assert [p["id"] for p in r.json()] == [other_id]
        assert r.headers["X-Total-Count"] == "2"
        assert 'rel="next"' in r.headers["Link"]

        assert (await a.delete(f"/projects/hooks/webhook/policies/{policy_id}")).status_code == 200
        assert (await a.get(f"/projects/hooks/webhook/policies/{policy_id}")).status_code == 404
        assert (await a.delete(f"/projects/hooks/webhook/policies/{policy_id}")).status_code == 404
        assert (await a.get("/projects/hooks/webhook/policies")).headers["X-Total-Count"] == "1"


async def test_supported_events_and_last_trigger(berth: Berth) -> None:
    await _forget_deliveries(berth)
    await make_project(berth, "hooks")
    await create_policy(
        berth, "hooks", policy_body("ci", "http://ci.example/", (PUSH_ARTIFACT, "QUOTA_EXCEED"))
    )
    async with api(berth) as a:
        r = await a.get("/projects/hooks/webhook/events")
        assert r.status_code == 200
        events = r.json()
        assert set(events["event_type"]) == {
            "PUSH_ARTIFACT",
            "PULL_ARTIFACT",
            "DELETE_ARTIFACT",
            "QUOTA_EXCEED",
            "QUOTA_WARNING",
            "SCANNING_FAILED",
            "SCANNING_STOPPED",
            "SCANNING_COMPLETED",
            "REPLICATION",
            "TAG_RETENTION",
            "UPLOAD_CHART",
            "DOWNLOAD_CHART",
            "DELETE_CHART",
        }
        assert events["notify_type"] == ["http", "slack"]
        # As in Harbor: only http targets choose a format.
        assert events["payload_formats"] == [
            {"notify_type": "http", "formats": ["Default", "CloudEvents"]}
        ]
        r = await a.get("/projects/hooks/webhook/lasttrigger")
        assert r.status_code == 200
        triggers = r.json()
        assert sorted(t["event_type"] for t in triggers) == [PUSH_ARTIFACT, "QUOTA_EXCEED"]
        assert all(t["policy_name"] == "ci" and t["enabled"] is True for t in triggers)
        assert all("last_trigger_time" not in t for t in triggers)


async def test_policy_validation(berth: Berth) -> None:
    await _forget_deliveries(berth)
    await make_project(berth, "hooks")
    await make_project(berth, "elsewhere")
    good = policy_body("ok", "https://ci.example/hook")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"targets": []}, "targets"),
        ({"targets": "https://ci.example"}, "targets"),
        ({"targets": [{"type": "http", "address": "ftp://ci.example/hook"}]}, "http"),
        ({"targets": [{"type": "http", "address": "ci.example/hook"}]}, "http"),
        ({"targets": [{"type": "http", "address": "http://"}]}, "http"),
        ({"targets": [{"type": "http", "address": "http://a b.example/"}]}, "URL"),
        ({"targets": [{"type": "http"}]}, "address"),
        ({"targets": [{"type": "email", "address": "https://ci.example"}]}, "target type"),
        (
            {
                "targets": [
                    {
                        "type": "slack",
                        "address": "https://notify.slack.example/services/x",
                        "payload_format": "CloudEvents",
                    }
                ]
            },
            "not allowed for slack",
        ),
        (
            {"targets": [{"address": "https://ci.example", "auth_header": "a\r\nX-Evil: 1"}]},
            "single line of printable ASCII",
        ),
        ({"targets": [{"address": "https://ci.example", "skip_cert_verify": "no"}]}, "boolean"),
        ({"event_types": ["NOT_AN_EVENT"]}, "event type"),
        ({"event_types": []}, "event_types"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"enabled": "yes"}, "enabled"),
    ]
    async with api(berth) as a:
        for change, words in bad:
            r = await a.post("/projects/hooks/webhook/policies", json={**good, **change})
            assert r.status_code == 400, (change, r.text)
            assert r.json()["errors"][0]["code"] == "BAD_REQUEST"
            assert words in r.json()["errors"][0]["message"], (change, r.text)
        r = await a.post("/projects/hooks/webhook/policies", content=b"{not json")
        assert r.status_code == 400
        assert (await a.get("/projects/hooks/webhook/policies")).headers["X-Total-Count"] == "0"

        # What Harbor accepts: every event type, Slack, CloudEvents, self-signed endpoints.
        accepted = {
            **good,
            "event_types": ["SCANNING_FAILED", "REPLICATION", "TAG_RETENTION", "QUOTA_WARNING"],
            "targets": [
                {
                    "type": "http",
                    "address": "https://ci.example/a",
                    "payload_format": "CloudEvents",
                },
                {"type": "slack", "address": "https://notify.slack.example/services/T/B/x"},
                {"address": "https://u:p@[::1]:8443/hook?x=1#f", "skip_cert_verify": True},
            ],
        }
        r = await a.post("/projects/hooks/webhook/policies", json=accepted)
        assert r.status_code == 201, r.text
        policy_id = int(r.headers["Location"].rsplit("/", 1)[1])
        got = (await a.get(f"/projects/hooks/webhook/policies/{policy_id}")).json()
        # Like Harbor, only scheme, host, port and path of an address are kept.
        assert [t["address"] for t in got["targets"]] == [
            "https://ci.example/a",
            "https://notify.slack.example/services/T/B/x",
            "https://[::1]:8443/hook",
        ]
        assert [(t["type"], t["payload_format"]) for t in got["targets"]] == [
            ("http", "CloudEvents"),
            ("slack", ""),
            ("http", "Default"),
        ]
        # Sent back as shown, the Slack target (no format) is still accepted.
        r = await a.put(f"/projects/hooks/webhook/policies/{policy_id}", json=got)
        assert r.status_code == 200, r.text
        r = await a.put(
            f"/projects/hooks/webhook/policies/{policy_id}", json={"event_types": ["NOPE"]}
        )
        assert r.status_code == 400

        # A policy is found only through its own project.
        assert (await a.get(f"/projects/elsewhere/webhook/policies/{policy_id}")).status_code == 404
        assert (await a.get("/projects/hooks/webhook/policies/999")).status_code == 404
        assert (await a.get("/projects/hooks/webhook/policies/abc")).status_code == 400
        assert (await a.get("/projects/nope/webhook/policies")).status_code == 404
        r = await a.get(f"/projects/hooks/webhook/policies/{policy_id}/executions/1/tasks")
        assert r.status_code == 404


async def test_only_project_admins_and_sysadmins_manage_webhooks(berth: Berth) -> None:
    await _forget_deliveries(berth)
    await make_project(berth, "hooks")
    for user, role in (("alice", 1), ("bob", 4), ("carol", 2), ("dave", 3)):
        await make_user(berth, user)
        await add_member(berth, "hooks", user, role)
    await make_user(berth, "erin")
    policy_id = await create_policy(berth, "hooks", policy_body("ci", "https://ci.example/h"))
    base = "/projects/hooks/webhook"
    async with api(berth, ("alice", PASSWORD)) as alice:
        assert (await alice.get(f"{base}/policies")).status_code == 200
        r = await alice.post(f"{base}/policies", json=policy_body("mine", "https://a.example/"))
        assert r.status_code == 201
        assert (await alice.get(f"{base}/events")).status_code == 200
        assert (await alice.get(f"{base}/lasttrigger")).status_code == 200
        r = await alice.put(f"{base}/policies/{policy_id}", json={"enabled": False})
        assert r.status_code == 200
    # Maintainers may list the policies (Harbor's notification-policy:list), nothing more.
    async with api(berth, ("bob", PASSWORD)) as bob:
        assert (await bob.get(f"{base}/policies")).status_code == 200
        r = await bob.post(f"{base}/policies", json=policy_body("bob", "https://b.example/"))
        assert r.status_code == 403
    for user in ("bob", "carol", "dave", "erin"):
        async with api(berth, (user, PASSWORD)) as other:
            if user != "bob":
                assert (await other.get(f"{base}/policies")).status_code == 403, user
            assert (await other.get(f"{base}/policies/{policy_id}")).status_code == 403, user
            r = await other.post(f"{base}/policies", json=policy_body(user, "https://b.example/"))
            assert r.status_code == 403, user
            r = await other.put(f"{base}/policies/{policy_id}", json={"enabled": True})
            assert r.status_code == 403, user
            assert (await other.delete(f"{base}/policies/{policy_id}")).status_code == 403, user
            assert (await other.get(f"{base}/policies/{policy_id}/executions")).status_code == 403
            assert (await other.get(f"{base}/events")).status_code == 403, user
    async with api(berth, None) as anonymous:
        assert (await anonymous.get(f"{base}/policies")).status_code == 401
        r = await anonymous.post(f"{base}/policies", json=policy_body("x", "https://c.example/"))
        assert r.status_code == 401
    async with api(berth, ("alice", PASSWORD)) as alice:
        assert (await alice.delete(f"{base}/policies/{policy_id}")).status_code == 200


# --- deliveries ------------------------------------------------------------------------------


async def test_delivery_retries_until_the_endpoint_accepts(
    berth: Berth, job_worker: Worker
) -> None:
    """``notify`` (what the request paths call) → WEBHOOK jobs → the worker POSTs; the first
    attempt gets a 500, the retry is accepted; both carry Harbor's payload and the policy's
    auth header, and the execution's log shows both."""
    await _forget_deliveries(berth)
    project_id = await make_project(berth, "hooks", public=True)
    async with berth.client() as c:
        digest, _ = await push_image(c, "hooks/app", "v1")
    b = berth.app.state.backends
    created = await webhooks_db.repository_created_at(b.db, "hooks/app")
    assert created is not None
    async with receiver(fail_first=1) as flaky, receiver() as cloud:
        policy_id = await create_policy(
            berth,
            "hooks",
            {
                "name": "ci",
                "event_types": [PUSH_ARTIFACT],
                "targets": [
                    {"type": "http", "address": flaky.url, "auth_header": AUTH_HEADER},
                    {"type": "http", "address": cloud.url, "payload_format": "CloudEvents"},
                ],
            },
        )
        event = Event(
            type=PUSH_ARTIFACT,
            project_id=project_id,
            project_name="hooks",
            repository="hooks/app",
            operator="admin",
            resources=(artifact_resource("registry.test", "hooks/app", digest, "v1"),),
            public=True,
            repository_created=int(created.timestamp()),
        )
        job_ids = await webhook.notify(b, event, retry_base_seconds=1)
        assert len(job_ids) == 2
        first, retry = await flaky.wait_for(2)
        [cloud_event] = await cloud.wait_for(1)
        executions = await wait_for_executions(berth, "hooks", policy_id, 2)

    expected = {
        "type": "PUSH_ARTIFACT",
        "occur_at": event.occur_at,
        "operator": "admin",
        "event_data": {
            "resources": [
                {"digest": digest, "tag": "v1", "resource_url": "registry.test/hooks/app:v1"}
            ],
            "repository": {
                "date_created": int(created.timestamp()),
                "name": "app",
                "namespace": "hooks",
                "repo_full_name": "hooks/app",
                "repo_type": "public",
            },
        },
    }
    for request in (first, retry):
        assert request.headers["authorization"] == AUTH_HEADER
        assert request.headers["content-type"] == "application/json"
        assert request.json() == expected
        # Members in Harbor's order, and the retry sends the very same bytes.
        assert request.body.startswith(b'{"type":"PUSH_ARTIFACT","occur_at":')
    assert first.body == retry.body

    assert cloud_event.headers["content-type"] == "application/cloudevents+json"
    assert "authorization" not in cloud_event.headers
    ce = cloud_event.json()
    assert ce["specversion"] == "1.0"
    assert ce["type"] == "harbor.artifact.pushed"
    assert ce["source"] == f"/projects/{project_id}/webhook/policies/{policy_id}"
    assert ce["datacontenttype"] == "application/json"
    assert ce["operator"] == "admin"
    assert ce["data"] == expected["event_data"]
    assert ce["id"]
    assert ce["time"].endswith("Z")

    assert sorted(e["id"] for e in executions) == sorted(job_ids)
    for execution in executions:
        assert execution["status"] == "Success"
        assert execution["trigger"] == "EVENT"
        assert execution["vendor_type"] == "WEBHOOK"
        assert execution["vendor_id"] == policy_id
        assert execution["metrics"]["task_count"] == 1
        assert execution["metrics"]["success_task_count"] == 1
        assert execution["extra_attrs"]["event_type"] == PUSH_ARTIFACT
        assert AUTH_HEADER not in json.dumps(execution)
    flaky_job = job_ids[0]
    base = f"/projects/hooks/webhook/policies/{policy_id}/executions/{flaky_job}"
    async with api(berth) as a:
        r = await a.get(f"{base}/tasks")
        assert r.status_code == 200
        assert r.headers["X-Total-Count"] == "1"
        [task] = r.json()
        assert (task["id"], task["execution_id"]) == (flaky_job, flaky_job)
        assert task["status"] == "Success"
        assert task["run_count"] == 2
        r = await a.get(f"{base}/tasks/{flaky_job}/log")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        log = r.text
        assert (await a.get(f"{base}/tasks/{flaky_job + 100}/log")).status_code == 404
        triggers = (await a.get("/projects/hooks/webhook/lasttrigger")).json()
        assert triggers[0]["last_trigger_time"].endswith("Z")
    assert "attempt 1: receive response, status code: 500" in log
    assert "attempt 1 failed: the endpoint answered 500" in log
    assert "attempt 2: receive response, status code: 200" in log
    assert "send webhook successfully" in log
    assert "finished: Success" in log
    assert '"repo_full_name":"hooks/app"' in log
    assert AUTH_HEADER not in log
    assert "hook-secret" not in log


async def test_delivery_gives_up_after_its_retries(berth: Berth, job_worker: Worker) -> None:
    await _forget_deliveries(berth)
    project_id = await make_project(berth, "hooks")
    closed = f"http://127.0.0.1:{_free_port()}/hook"
    policy_id = await create_policy(berth, "hooks", policy_body("down", closed))
    event = Event(type=PUSH_ARTIFACT, project_id=project_id, project_name="hooks", repository="")
    [job_id] = await webhook.notify(
        berth.app.state.backends, event, retries=1, retry_base_seconds=0.2, timeout_seconds=2
    )
    [execution] = await wait_for_executions(berth, "hooks", policy_id, 1)
    assert execution["status"] == "Error"
    base = f"/projects/hooks/webhook/policies/{policy_id}/executions/{job_id}"
    async with api(berth) as a:
        [task] = (await a.get(f"{base}/tasks")).json()
        assert task["run_count"] == 2
        log = (await a.get(f"{base}/tasks/{job_id}/log")).text
    assert "attempt 1: no response: ConnectError" in log
    assert "attempt 2: no response: ConnectError" in log
    assert "giving up after 2 attempts" in log


async def test_nothing_is_sent_to_disabled_or_unsubscribed_policies(berth: Berth) -> None:
    await _forget_deliveries(berth)
    project_id = await make_project(berth, "hooks")
    await create_policy(
        berth, "hooks", {**policy_body("off", "http://a.example/"), "enabled": False}
    )
    await create_policy(
        berth, "hooks", policy_body("pulls", "http://b.example/", ("PULL_ARTIFACT",))
    )
    event = Event(type=PUSH_ARTIFACT, project_id=project_id, project_name="hooks")
    assert await webhook.notify(berth.app.state.backends, event) == []


async def test_hooks_report_pulls_and_quota_events(berth: Berth, job_worker: Worker) -> None:
    """The functions request paths call: they return at once, and the deliveries follow."""
    await _forget_deliveries(berth)
    project_id = await make_project(berth, "nearly")
    async with berth.client() as c:
        digest, _ = await push_image(c, "nearly/app", "v1")
    async with api(berth) as a:
        quota = (await a.get("/quotas", params={"reference_id": "nearly"})).json()[0]
        used = quota["used"]["storage"]
        # About 90% full after that push.
        r = await a.put(f"/quotas/{quota['id']}", json={"hard": {"storage": used * 10 // 9}})
        assert r.status_code == 200
    project = ProjectRef(project_id, "nearly", False)
    b = berth.app.state.backends
    async with receiver() as sink:
        await create_policy(
            berth,
            "nearly",
            policy_body("ops", sink.url, ("PULL_ARTIFACT", "QUOTA_WARNING", "QUOTA_EXCEED")),
        )
        notify.artifact_event(
            b, PULL_ARTIFACT, project, "nearly/app", digest, None, "admin", host="reg.test"
        )
        notify.quota_warning_if_needed(b, project, "nearly/app", digest, "v1", "admin")
        await notify.wait_pending(b)
        # Usage is still over the threshold: the next push does not warn again.
        notify.quota_warning_if_needed(b, project, "nearly/app", digest, "v1", "admin")
        notify.quota_exceeded(
            b, project, "nearly/app", "adding 1.0 KiB … will exceed", "admin", digest=digest
        )
        await notify.wait_pending(b)
        received = await sink.wait_for(3)
        await asyncio.sleep(1)
        assert len(sink.requests) == 3
    by_type = {r.json()["type"]: r.json() for r in received}
    assert set(by_type) == {"PULL_ARTIFACT", "QUOTA_WARNING", "QUOTA_EXCEED"}

    pulled = by_type["PULL_ARTIFACT"]
    assert pulled["operator"] == "admin"
    assert pulled["event_data"]["resources"] == [
        {"digest": digest, "tag": digest, "resource_url": f"reg.test/nearly/app@{digest}"}
    ]
    repository = pulled["event_data"]["repository"]
    assert isinstance(repository["date_created"], int)
    assert repository["repo_type"] == "private"

    warned = by_type["QUOTA_WARNING"]
    assert warned["event_data"]["resources"] == [{"digest": digest, "tag": "v1"}]
    assert warned["event_data"]["custom_attributes"]["Details"].startswith("quota usage reach 9")
    exceeded = by_type["QUOTA_EXCEED"]
    assert exceeded["event_data"]["custom_attributes"] == {
        "Details": "adding 1.0 KiB … will exceed"
    }
    assert exceeded["event_data"]["repository"]["repo_full_name"] == "nearly/app"


async def test_a_push_refused_for_the_quota_sends_quota_exceed(
    berth: Berth, job_worker: Worker
) -> None:
    """Both upload paths (monolithic and chunked) announce the refusal, with the pusher."""
    await _forget_deliveries(berth)
    await make_project(berth, "full")
    async with api(berth) as a:
        quota = (await a.get("/quotas", params={"reference_id": "full"})).json()[0]
        assert (await a.put(f"/quotas/{quota['id']}", json={"hard": {"storage": 100}})).is_success
    big = b"q" * 1000
    async with receiver() as sink:
        await create_policy(berth, "full", policy_body("ops", sink.url, ("QUOTA_EXCEED",)))
        async with berth.client() as c:
            whole = await c.post(
                "/v2/full/app/blobs/uploads/", params={"digest": digest_of(big)}, content=big
            )
            assert whole.status_code == 403
            assert whole.json()["errors"][0]["code"] == "DENIED"
            started = await c.post("/v2/full/app/blobs/uploads/")
            assert started.status_code == 202
            chunk = await c.patch(
                started.headers["location"],
                content=big,
                headers={"Content-Range": "0-999", "Content-Type": "application/octet-stream"},
            )
            assert chunk.status_code == 403
        received = await sink.wait_for(2, within=30)
    payloads = [r.json() for r in received]
    assert {p["type"] for p in payloads} == {"QUOTA_EXCEED"}
    assert {p["operator"] for p in payloads} == {"admin"}
    details = [p["event_data"]["custom_attributes"]["Details"] for p in payloads]
    assert all("will exceed the configured upper limit of 100 B" in d for d in details)
    # The monolithic upload named its digest; the chunked one has none yet.
    named = sorted(
        (p["event_data"].get("resources") or [] for p in payloads), key=len, reverse=True
    )
    assert named == [[{"digest": digest_of(big), "tag": ""}], []]


async def test_a_push_through_the_registry_sends_the_webhook(
    berth: Berth, job_worker: Worker
) -> None:
    """End to end through /v2/: the push path calls ``notify.artifact_event``."""
    await _forget_deliveries(berth)
    await make_project(berth, "wired")
    async with receiver(fail_first=1) as sink:
        await create_policy(berth, "wired", policy_body("ci", sink.url, auth_header=AUTH_HEADER))
        async with berth.client() as c:
            digest, _ = await push_image(c, "wired/app", "v1")
        _, accepted = await sink.wait_for(2, within=30)
    assert accepted.headers["authorization"] == AUTH_HEADER
    payload = accepted.json()
    assert payload["type"] == "PUSH_ARTIFACT"
    assert payload["operator"] == "admin"
    [resource] = payload["event_data"]["resources"]
    assert resource["digest"] == digest
    assert resource["tag"] == "v1"
    assert resource["resource_url"].endswith("/wired/app:v1")
    assert payload["event_data"]["repository"]["repo_full_name"] == "wired/app"


async def test_deleting_a_repository_sends_delete_artifact_for_each_artifact(
    berth: Berth, job_worker: Worker
) -> None:
    await _forget_deliveries(berth)
    await make_project(berth, "gone")
    async with berth.client() as c:
        first, _ = await push_image(c, "gone/app", "v1", seed="one")
        second, _ = await push_image(c, "gone/app", "v2", seed="two")
    async with receiver() as sink:
        await create_policy(berth, "gone", policy_body("ci", sink.url, ("DELETE_ARTIFACT",)))
        async with api(berth) as a:
            r = await a.delete("/projects/gone/repositories/app")
            assert r.status_code == 200, r.text
        received = await sink.wait_for(2, within=30)
    payloads = [message.json() for message in received]
    assert {p["type"] for p in payloads} == {"DELETE_ARTIFACT"}
    resources = {
        (p["event_data"]["resources"][0]["digest"], p["event_data"]["resources"][0]["tag"])
        for p in payloads
    }
    assert resources == {(first, "v1"), (second, "v2")}
    assert {p["event_data"]["repository"]["repo_full_name"] for p in payloads} == {"gone/app"}


async def test_a_push_warns_of_a_quota_lowered_after_earlier_pushes(
    berth: Berth, job_worker: Worker
) -> None:
    """The limit a push compares with is remembered between pushes: lowering it must count
    from the next push on."""
    await _forget_deliveries(berth)
    await make_project(berth, "lowered")
    async with receiver() as sink:
        await create_policy(berth, "lowered", policy_body("ops", sink.url, ("QUOTA_WARNING",)))
        async with berth.client() as c:
            await push_image(c, "lowered/app", "v1")  # unlimited: no warning
            async with api(berth) as a:
                quota = (await a.get("/quotas", params={"reference_id": "lowered"})).json()[0]
                used = quota["used"]["storage"]
                # The second image is as big as the first: 90% full after it.
                lowered = {"hard": {"storage": 2 * used * 10 // 9}}
                assert (await a.put(f"/quotas/{quota['id']}", json=lowered)).is_success
            digest, _ = await push_image(c, "lowered/app", "v2", seed="y")
        (warned,) = await sink.wait_for(1, within=30)
    payload = warned.json()
    assert payload["type"] == "QUOTA_WARNING"
    assert payload["event_data"]["resources"] == [{"digest": digest, "tag": "v2"}]
