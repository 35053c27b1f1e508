"""Secrets at rest, read back with SQL behind Berth's back: the LDAP bind password and webhook
auth headers are sealed (in their tables and in delivery jobs), robot secrets are kept only as
hashes, and values stored in clear before are sealed at the next start."""

from __future__ import annotations

import json

import asyncpg
import pytest
from pydantic import SecretStr

from registry.runtime import open_backends
from registry.services.secrets import SecretKeyError
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import api, make_project, make_pull_robot
from tests.integration.api.test_ldap_login import token_status, use_ldap
from tests.integration.api.test_webhooks import Worker, create_policy, policy_body, receiver
from tests.integration.ldap_server import LdapServer

AUTH_HEADER = "Bearer at-rest-hook-secret-0815"


async def _dump(berth: Berth, *tables: str) -> str:
    """Every row of the tables, as text."""
    conn = await asyncpg.connect(berth.database_url)
    try:
        rows = [
            str(dict(r))
            for table in tables
            for r in await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608 — fixed names
        ]
    finally:
        await conn.close()
    return "\n".join(rows)


async def _configuration(berth: Berth, key: str) -> str:
    conn = await asyncpg.connect(berth.database_url)
    try:
        raw = await conn.fetchval("SELECT value FROM configurations WHERE key = $1", key)
    finally:
        await conn.close()
    value: str = json.loads(raw)
    return value


async def test_the_ldap_bind_password_is_sealed(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    stored = await _configuration(berth, "ldap_search_password")
    assert stored.startswith("enc:v1:")
    assert ldap_server.reader_password not in await _dump(berth, "configurations", "audit_logs")
    # Berth opens it to search the directory.
    berth.app.state.backends.config.invalidate()
    assert await token_status(berth, "alice", ldap_server.password("alice")) == 200
    async with api(berth) as a:
        assert (await a.post("/ldap/ping", json={})).json()["success"] is True


async def test_webhook_auth_headers_are_sealed_in_policies_and_jobs(
    berth: Berth, job_worker: Worker
) -> None:
    await make_project(berth, "sealed", public=True)
    async with receiver() as sink:
        await create_policy(berth, "sealed", policy_body("ci", sink.url, auth_header=AUTH_HEADER))
        async with berth.client() as c:
            await push_image(c, "sealed/app", "v1")
        [delivered] = await sink.wait_for(1)
    # The worker opened it to send it.
    assert delivered.headers["authorization"] == AUTH_HEADER
    dump = await _dump(berth, "webhook_policies", "jobs", "audit_logs")
    assert "enc:v1:" in dump
    assert AUTH_HEADER not in dump
    assert "at-rest-hook-secret" not in dump


async def test_robot_secrets_are_kept_only_as_hashes(berth: Berth) -> None:
    await make_project(berth, "team")
    async with api(berth) as a:
        robot = await make_pull_robot(a, "team", "ci")
        r = await a.patch(f"/robots/{robot['id']}", json={})
        refreshed = r.json()["secret"]
    dump = await _dump(berth, "robots", "robot_permissions", "audit_logs", "jobs")
    assert robot["secret"] not in dump
    assert refreshed not in dump
    assert "scrypt$" in dump


async def test_secrets_stored_in_clear_are_sealed_at_the_next_start(berth: Berth) -> None:
    project_id = await make_project(berth, "legacy")
    target = {
        "type": "http",
        "address": "https://ci.example/hook",
        "auth_header": "Bearer legacy-clear-header",
        "skip_cert_verify": False,
        "payload_format": "Default",
    }
    conn = await asyncpg.connect(berth.database_url)
    try:
        await conn.execute(
            "INSERT INTO configurations (key, value) VALUES ('ldap_search_password', $1)",
            json.dumps("legacy-clear-bind-password"),
        )
        await conn.execute(
            "INSERT INTO webhook_policies (project_id, name, event_types, targets) "
            "VALUES ($1, 'old', ARRAY['PUSH_ARTIFACT'], $2)",
            project_id,
            json.dumps([target]),
        )
        await conn.execute(
            "INSERT INTO jobs (kind, status, parameters) VALUES ('WEBHOOK', 'Success', $1)",
            json.dumps({"policy_id": 1, "target": target, "body": "{}"}),
        )
    finally:
        await conn.close()
    assert "legacy-clear" in await _dump(berth, "configurations", "webhook_policies", "jobs")
    # The next start of any Berth process on this database seals them.
    async with open_backends(berth.settings, pool_size=1) as started:
        assert (await started.config.get())["ldap_search_password"] == (
            "legacy-clear-bind-password"
        )
    dump = await _dump(berth, "configurations", "webhook_policies", "jobs")
    assert "legacy-clear" not in dump
    assert dump.count("enc:v1:") == 3
    berth.app.state.backends.config.invalidate()
    config = await berth.app.state.backends.config.get()
    assert config["ldap_search_password"] == "legacy-clear-bind-password"


async def test_a_process_with_another_key_refuses_to_start(berth: Berth) -> None:
    other = berth.settings.model_copy(
        update={"secret_key": SecretStr("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}
    )
    with pytest.raises(SecretKeyError, match="same key"):
        async with open_backends(other, pool_size=1):
            pass
