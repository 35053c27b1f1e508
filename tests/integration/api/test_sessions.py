"""Browser sessions: the portal's form login, the ``sid`` cookie on /api/v2.0, the CSRF token
unsafe requests must echo, logout, and what Redis keeps."""

from __future__ import annotations

import hashlib
import json
import time
from http.cookies import SimpleCookie

import httpx
from redis.asyncio import Redis

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.test_identity import PASSWORD, make_user

CSRF = "X-Harbor-CSRF-Token"


def browser(berth: Berth) -> httpx.AsyncClient:
    """Sends only what a test puts on a request: no credentials, no cookie jar of its own."""
    return httpx.AsyncClient(base_url=berth.url, timeout=30)


def redis_of(berth: Berth) -> Redis:
    redis: Redis = berth.app.state.backends.redis
    return redis


def session_cookie(response: httpx.Response) -> SimpleCookie:
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    cookie = SimpleCookie()
    cookie.load(headers[0])
    assert "sid" in cookie
    return cookie


async def login(
    berth: Berth, username: str = "admin", password: str = ADMIN_PASSWORD
) -> tuple[str, str]:
    """(session id, CSRF token) after a form login."""
    async with browser(berth) as c:
        r = await c.post("/c/login", data={"principal": username, "password": password})
    assert r.status_code == 200, r.text
    return session_cookie(r)["sid"].value, r.headers[CSRF]


def with_session(sid: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"sid={sid}"}
    if csrf is not None:
        headers[CSRF] = csrf
    return headers


async def test_login_sets_a_hardened_cookie_and_returns_the_csrf_token(berth: Berth) -> None:
    async with browser(berth) as c:
        r = await c.post(
            "/c/login",
            content=f"principal=admin&password={ADMIN_PASSWORD}",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        )
    assert r.status_code == 200, r.text
    assert len(r.headers[CSRF]) >= 32
    assert r.headers["Cache-Control"] == "no-store"
    morsel = session_cookie(r)["sid"]
    assert len(morsel.value) >= 43  # 256 random bits, url-safe base64
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; https requests get Secure
    assert not morsel["max-age"]
    assert not morsel["expires"]  # a browser-session cookie; the server enforces expiry


async def test_session_authenticates_the_api_and_carries_the_token(berth: Berth) -> None:
    sid, csrf = await login(berth)
    async with browser(berth) as c:
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "admin"
        assert r.headers[CSRF] == csrf
        # Also on responses of routes that never ask who is calling.
        r = await c.get("/api/v2.0/ping", headers=with_session(sid))
        assert r.status_code == 200
        assert r.headers[CSRF] == csrf
        # Not for anonymous or Basic callers.
        assert CSRF not in (await c.get("/api/v2.0/projects")).headers
        r = await c.get("/api/v2.0/users/current", auth=("admin", ADMIN_PASSWORD))
        assert r.status_code == 200
        assert CSRF not in r.headers


async def test_unsafe_methods_need_the_csrf_token(berth: Berth) -> None:
    user_id = await make_user(berth, "alice")
    sid, csrf = await login(berth, "alice", PASSWORD)
    async with browser(berth) as c:
        for headers in (with_session(sid), with_session(sid, "wrong"), with_session(sid, "")):
            r = await c.put(
                f"/api/v2.0/users/{user_id}", json={"realname": "Mallory"}, headers=headers
            )
            assert r.status_code == 403, r.text
            assert r.json() == {"errors": [{"code": "FORBIDDEN", "message": "CSRF token invalid"}]}
            r = await c.post("/api/v2.0/projects", json={"project_name": "forged"}, headers=headers)
            assert r.status_code == 403, r.text
        # Another session's token is no good either.
        _, admin_csrf = await login(berth)
        r = await c.post(
            "/api/v2.0/projects",
            json={"project_name": "forged"},
            headers=with_session(sid, admin_csrf),
        )
        assert r.status_code == 403
        assert (await c.get("/api/v2.0/users/current", headers=with_session(sid))).json()[
            "realname"
        ] == "Alice"
        r = await c.put(
            f"/api/v2.0/users/{user_id}",
            json={"realname": "Alice A."},
            headers=with_session(sid, csrf),
        )
        assert r.status_code == 200, r.text
        r = await c.post(
            "/api/v2.0/projects", json={"project_name": "alices"}, headers=with_session(sid, csrf)
        )
        assert r.status_code == 201, r.text
        me = (await c.get("/api/v2.0/users/current", headers=with_session(sid))).json()
        assert me["realname"] == "Alice A."
        # Basic credentials need no CSRF token, cookie or not.
        r = await c.put(
            f"/api/v2.0/users/{user_id}",
            json={"realname": "Alice B."},
            headers=with_session(sid),
            auth=("alice", PASSWORD),
        )
        assert r.status_code == 200, r.text
    async with httpx.AsyncClient(base_url=berth.url, auth=("admin", ADMIN_PASSWORD)) as a:
        names = {p["name"] for p in (await a.get("/api/v2.0/projects")).json()}
    assert "alices" in names
    assert "forged" not in names


async def test_logout_ends_the_session(berth: Berth) -> None:
    sid, _ = await login(berth)
    async with browser(berth) as c:
        r = await c.get("/c/logout", headers=with_session(sid))
        assert r.status_code == 200
        morsel = session_cookie(r)["sid"]
        assert morsel.value == ""
        assert morsel["max-age"] == "0"
        assert morsel["path"] == "/"
        assert CSRF not in r.headers
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 401
        assert CSRF not in r.headers
        # Logging out twice, or without a session, is fine.
        assert (await c.get("/c/logout", headers=with_session(sid))).status_code == 200
        assert (await c.get("/c/logout")).status_code == 200
    assert await redis_of(berth).keys("berth:session:*") == []


async def test_a_new_login_replaces_the_old_session(berth: Berth) -> None:
    old_sid, _ = await login(berth)
    async with browser(berth) as c:
        r = await c.post(
            "/c/login",
            data={"principal": "admin", "password": ADMIN_PASSWORD},
            headers={"Cookie": f"sid={old_sid}"},
        )
        assert r.status_code == 200
        new_sid = session_cookie(r)["sid"].value
        assert new_sid != old_sid
        assert (
            await c.get("/api/v2.0/users/current", headers=with_session(old_sid))
        ).status_code == 401
        assert (
            await c.get("/api/v2.0/users/current", headers=with_session(new_sid))
        ).status_code == 200


async def test_bad_logins(berth: Berth) -> None:
    async with browser(berth) as c:
        r = await c.post("/c/login", data={"principal": "admin", "password": "wrong"})
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert "set-cookie" not in r.headers
        assert CSRF not in r.headers
        assert "www-authenticate" not in r.headers  # no browser login dialog for the portal
        r = await c.post("/c/login", data={"principal": "nobody", "password": "Whatever1"})
        assert r.status_code == 401
        assert (await c.post("/c/login", data={})).status_code == 401
        r = await c.post("/c/login", json={"principal": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 400
        r = await c.post(
            "/c/login",
            content=b"principal=admin&password=" + b"x" * (64 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413
        # After too many failures the account is throttled, even with the right password.
        limit = berth.settings.login_failure_limit
        for _ in range(limit):
            await c.post("/c/login", data={"principal": "admin", "password": "wrong"})
        r = await c.post("/c/login", data={"principal": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 429
        assert r.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
        assert "set-cookie" not in r.headers
    assert await redis_of(berth).keys("berth:session:*") == []


async def test_unknown_sessions_are_anonymous(berth: Berth) -> None:
    async with browser(berth) as c:
        for sid in ("bogus", "x" * 500):
            r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
            assert r.status_code == 401
            r = await c.get("/api/v2.0/projects", headers=with_session(sid))
            assert r.status_code == 200
            assert [p["name"] for p in r.json()] == ["library"]
            assert CSRF not in r.headers
            # Anonymous, so refused for want of credentials rather than of a CSRF token.
            r = await c.post(
                "/api/v2.0/projects", json={"project_name": "x"}, headers=with_session(sid)
            )
            assert r.status_code == 401


async def test_deleted_user_loses_the_session(berth: Berth) -> None:
    user_id = await make_user(berth, "bob")
    sid, _ = await login(berth, "bob", PASSWORD)
    async with browser(berth) as c:
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.json()["username"] == "bob"
        async with httpx.AsyncClient(base_url=berth.url, auth=("admin", ADMIN_PASSWORD)) as a:
            assert (await a.delete(f"/api/v2.0/users/{user_id}")).status_code == 200
        # A new account of the same name does not inherit it.
        await make_user(berth, "bob")
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 401
    assert await redis_of(berth).keys("berth:session:*") == []


async def test_sessions_rest_in_redis_by_hash_and_expire(berth: Berth) -> None:
    sid, csrf = await login(berth)
    redis = redis_of(berth)
    keys = await redis.keys("berth:session:*")
    assert keys == [f"berth:session:{hashlib.sha256(sid.encode()).hexdigest()}".encode()]
    (key,) = keys
    raw = await redis.get(key)
    assert isinstance(raw, bytes)
    assert sid.encode() not in key
    assert sid.encode() not in raw
    record = json.loads(raw)
    assert record["name"] == "admin"
    assert record["csrf"] == csrf
    # Idle timeout: 30 minutes, restarted by every authenticated use.
    assert 1700 < await redis.ttl(key) <= 1800
    await redis.expire(key, 60)
    async with browser(berth) as c:
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 200
        assert 1700 < await redis.ttl(key) <= 1800
        # Absolute lifetime: 8 hours after login, however busy.
        record["created"] = time.time() - 8 * 3600 - 1
        await redis.set(key, json.dumps(record), ex=1800)
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 401
        # Near the end of its lifetime, the idle clock does not outlast it.
        record["created"] = time.time() - 8 * 3600 + 120
        await redis.set(key, json.dumps(record), ex=1800)
        r = await c.get("/api/v2.0/users/current", headers=with_session(sid))
        assert r.status_code == 200
        assert 0 < await redis.ttl(key) <= 120
