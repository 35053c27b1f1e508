"""Replication registries against a live Berth: credentials sealed at rest (read back with SQL
behind Berth's back), never returned, and the scheduled health check that records each
registry's status."""

from __future__ import annotations

import socket

from registry.services import replication_registry
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.test_identity import api
from tests.integration.api.test_secrets_at_rest import _dump


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _body(name: str, url: str, secret: str) -> dict[str, object]:
    return {
        "name": name,
        "type": "harbor",
        "url": url,
        "credential": {"type": "basic", "access_key": "admin", "access_secret": secret},
        "webhook_secret": f"hook-{secret}",
    }


async def test_secrets_are_sealed_and_health_is_checked_on_schedule(berth: Berth) -> None:
    async with api(berth) as a:
        r = await a.post("/registries", json=_body("itself", berth.url, ADMIN_PASSWORD))
        assert r.status_code == 201, r.text
        alive = int(r.headers["Location"].rsplit("/", 1)[1])
        dead_url = f"http://127.0.0.1:{_dead_port()}"
        r = await a.post("/registries", json=_body("gone", dead_url, "gone-secret-4711"))
        assert r.status_code == 201, r.text
        dead = int(r.headers["Location"].rsplit("/", 1)[1])
        listed = (await a.get("/registries")).text
        assert ADMIN_PASSWORD not in listed
        assert "gone-secret-4711" not in listed
        assert {x["status"] for x in (await a.get("/registries")).json()} == {"unknown"}

    stored = await _dump(berth, "replication_registries")
    assert ADMIN_PASSWORD not in stored
    assert "gone-secret-4711" not in stored
    assert "hook-gone" not in stored

    schedules = await _dump(berth, "schedules")
    assert replication_registry.HEALTH_KIND in schedules

    statuses = await replication_registry.check_all(berth.app.state.backends)
    assert statuses == {"itself": "healthy", "gone": "unhealthy"}
    async with api(berth) as a:
        assert (await a.get(f"/registries/{alive}")).json()["status"] == "healthy"
        assert (await a.get(f"/registries/{dead}")).json()["status"] == "unhealthy"


async def test_a_policy_with_executions_and_tasks_is_deleted_with_their_jobs(
    berth: Berth,
) -> None:
    async with api(berth) as a:
        r = await a.post("/registries", json=_body("peer", berth.url, ADMIN_PASSWORD))
        assert r.status_code == 201, r.text
        registry_id = int(r.headers["Location"].rsplit("/", 1)[1])
        r = await a.post(
            "/replication/policies",
            json={"name": "to-peer", "dest_registry": {"id": registry_id}},
        )
        assert r.status_code == 201, r.text
        policy_id = int(r.headers["Location"].rsplit("/", 1)[1])
    db = berth.app.state.backends.db
    # An execution that ran: its listing job, and a task with a job of its own (finished, as
    # after a failed run that was retried).
    listing = await db.fetchval(
        "INSERT INTO jobs (kind, status) VALUES ('REPLICATION', 'Success') RETURNING id"
    )
    task_job = await db.fetchval(
        "INSERT INTO jobs (kind, status, attempts) VALUES ('REPLICATION_TASK', 'Success', 2) "
        "RETURNING id"
    )
    execution = await db.fetchval(
        "INSERT INTO replication_executions (policy_id, status, job_id, listed, end_time) "
        "VALUES ($1, 'Succeed', $2, true, now()) RETURNING id",
        policy_id,
        listing,
    )
    await db.execute(
        "INSERT INTO replication_tasks (execution_id, job_id, operation, src_resource, "
        "dst_resource) VALUES ($1, $2, 'copy', 'lib/app:[v1]', 'lib/app:[v1]')",
        execution,
        task_job,
    )
    async with api(berth) as a:
        r = await a.delete(f"/replication/policies/{policy_id}")
        assert r.status_code == 200, r.text
        assert (await a.get(f"/replication/policies/{policy_id}")).status_code == 404
        assert (await a.delete(f"/registries/{registry_id}")).status_code == 200
    left = await db.fetchval(
        "SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[])", [listing, task_job]
    )
    assert left == 0
    assert await db.fetchval("SELECT count(*) FROM replication_executions") == 0
