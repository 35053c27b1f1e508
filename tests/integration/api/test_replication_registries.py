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
