"""Identity changes made through one `berth serve` process bite on the very next request to
another one: a changed password, a new system-admin flag, a disabled robot, a deleted user.
Each server remembers recent logins, so the first request to each below is made before the
change, to have something remembered there."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.e2e._servers import Registry, RegistryPair

pytestmark = pytest.mark.e2e

SERVICE = "berth-registry"
PASSWORD = "Passw0rdX"


def _api(registry: Registry) -> httpx.Client:
    return httpx.Client(
        base_url=f"{registry.url}/api/v2.0",
        auth=(registry.username, registry.password),
        timeout=60,
    )


def _token(registry: Registry, creds: tuple[str, str], scope: str = "") -> httpx.Response:
    params = {"service": SERVICE, **({"scope": scope} if scope else {})}
    return httpx.get(f"{registry.url}/service/token", params=params, auth=creds, timeout=60)


def _granted(response: httpx.Response) -> list[str]:
    payload = response.json()["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return [a for entry in claims["access"] for a in entry["actions"]]


def _both_accept(pair: RegistryPair, creds: tuple[str, str]) -> None:
    for registry in (pair.first, pair.second):
        r = _token(registry, creds)
        assert r.status_code == 200, (registry.host, r.text)


def test_user_changes_bite_on_the_other_server_at_once(berth_pair: RegistryPair) -> None:
    first, second = berth_pair.first, berth_pair.second
    with _api(first) as api:
        r = api.post(
            "/users",
            json={"username": "rita", "email": "rita@example.test", "password": PASSWORD},
        )
        assert r.status_code == 201, r.text
        user_id = int(r.headers["Location"].rsplit("/", 1)[1])
        creds = ("rita", PASSWORD)
        _both_accept(berth_pair, creds)
        # Not an administrator yet: no catalog.
        assert _granted(_token(second, creds, "registry:catalog:*")) == []
        assert api.put(f"/users/{user_id}/sysadmin", json={"sysadmin_flag": True}).is_success
        assert _granted(_token(second, creds, "registry:catalog:*")) == ["*"]

        r = api.put(f"/users/{user_id}/password", json={"new_password": "Changed123"})
        assert r.status_code == 200, r.text
        assert _token(second, creds).status_code == 401
        assert httpx.get(f"{second.url}/v2/", auth=creds, timeout=60).status_code == 401
        creds = ("rita", "Changed123")
        _both_accept(berth_pair, creds)

        assert api.delete(f"/users/{user_id}").status_code == 200
        assert _token(second, creds).status_code == 401


def test_a_disabled_robot_is_refused_by_the_other_server_at_once(
    berth_pair: RegistryPair,
) -> None:
    first, second = berth_pair.first, berth_pair.second
    with _api(first) as api:
        r = api.post(
            "/robots",
            json={
                "name": "replica-ci",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "library",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        robot = r.json()
        creds = (robot["name"], robot["secret"])
        _both_accept(berth_pair, creds)
        assert api.put(f"/robots/{robot['id']}", json={"disable": True}).status_code == 200
        assert _token(second, creds).status_code == 401
        assert api.put(f"/robots/{robot['id']}", json={"disable": False}).status_code == 200
        _both_accept(berth_pair, creds)
        assert api.delete(f"/robots/{robot['id']}").status_code == 200
        assert _token(second, creds).status_code == 401
