"""The token service and the registry's token checks, including the attacks that must fail."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry.services import read_cache
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.oci import push_image

SERVICE = "berth-registry"


async def _token(
    berth: Berth, *scopes: str, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)
) -> httpx.Response:
    async with berth.raw() as raw:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("service", SERVICE),
            *(("scope", s) for s in scopes),
        ]
        return await raw.get("/service/token", params=params, auth=auth)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def _header(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


async def _get_manifest(berth: Berth, token: str, repo: str = "library/app") -> httpx.Response:
    async with berth.raw() as raw:
        return await raw.get(
            f"/v2/{repo}/manifests/v1", headers={"Authorization": f"Bearer {token}"}
        )


async def test_token_response_and_claims(berth: Berth) -> None:
    r = await _token(berth, "repository:library/app:pull,push")
    assert r.status_code == 200
    body = r.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 1800
    assert body["issued_at"].endswith("Z")
    assert _header(body["token"])["alg"] == "RS256"
    assert _header(body["token"])["kid"]
    claims = _claims(body["token"])
    assert claims["iss"] == "berth-token-issuer"
    assert claims["aud"] == SERVICE
    assert claims["sub"] == "admin"
    assert claims["exp"] - claims["iat"] == 1800
    assert {"nbf", "jti"} <= claims.keys()
    assert claims["access"] == [
        {"type": "repository", "name": "library/app", "actions": ["pull", "push"]}
    ]


async def test_scopes_repeat_merge_and_may_contain_colons(berth: Berth) -> None:
    r = await _token(
        berth,
        "repository:library/app:pull",
        "repository:library/app:pull,push repository:library/other:pull",
        "repository:localhost:5000/x:pull",
    )
    access = {(a["name"]): a["actions"] for a in _claims(r.json()["token"])["access"]}
    assert access["library/app"] == ["pull", "push"]
    assert access["library/other"] == ["pull"]
    # Not a valid repository here, so nothing is granted, but the token is still issued.
    assert access["localhost:5000/x"] == []


async def test_unknown_service_and_bad_credentials(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.get(
            "/service/token", params={"service": "other", "scope": "repository:library/a:pull"}
        )
        assert r.status_code == 400
        r = await raw.get("/service/token", params={"service": SERVICE}, auth=("admin", "wrong"))
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_anonymous_token_grants_pull_on_public_only(berth: Berth) -> None:
    await create_project(berth, "private")
    r = await _token(
        berth, "repository:library/app:pull,push", "repository:private/app:pull", auth=None
    )
    access = {a["name"]: a["actions"] for a in _claims(r.json()["token"])["access"]}
    assert access == {"library/app": ["pull"], "private/app": []}
    assert _claims(r.json()["token"])["sub"] == ""


async def test_catalog_scope_only_for_admins(berth: Berth) -> None:
    r = await _token(berth, "registry:catalog:*")
    assert _claims(r.json()["token"])["access"][0]["actions"] == ["*"]
    r = await _token(berth, "registry:catalog:*", auth=None)
    assert _claims(r.json()["token"])["access"][0]["actions"] == []
    async with berth.raw() as raw:
        r2 = await raw.get("/v2/_catalog", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert r2.status_code == 401


async def test_oauth2_password_and_refresh_grants(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.post(
            "/service/token",
            data={
                "grant_type": "password",
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "service": SERVICE,
                "client_id": "helm",
                "access_type": "offline",
                "scope": "repository:library/app:pull",
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "repository:library/app:pull"
        refresh = body["refresh_token"]
        # No scope at all (helm registry login): a token that grants nothing, and /v2/ says 200.
        r = await raw.post(
            "/service/token",
            data={
                "grant_type": "password",
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "service": SERVICE,
                "client_id": "helm",
            },
        )
        assert r.status_code == 200
        assert "refresh_token" not in r.json()
        v2 = await raw.get("/v2/", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert v2.status_code == 200
        r = await raw.post(
            "/service/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "service": SERVICE,
                "scope": "repository:library/app:pull,push",
            },
        )
        assert r.status_code == 200
        assert _claims(r.json()["access_token"])["access"][0]["actions"] == ["pull", "push"]
        # An access token is not a refresh token, and garbage is refused OAuth2-style.
        for bogus in (body["access_token"], "garbage"):
            r = await raw.post(
                "/service/token",
                data={"grant_type": "refresh_token", "refresh_token": bogus, "service": SERVICE},
            )
            assert r.status_code == 401
            assert r.json()["error"] == "invalid_grant"
        r = await raw.post(
            "/service/token",
            data={
                "grant_type": "password",
                "username": "admin",
                "password": "nope",
                "service": SERVICE,
            },
        )
        assert r.status_code == 401
        # A refresh token does not open /v2/.
        r = await raw.get("/v2/", headers={"Authorization": f"Bearer {refresh}"})
        assert r.status_code == 401


async def test_get_with_offline_token_returns_a_refresh_token(berth: Berth) -> None:
    async with berth.raw() as raw:
        r = await raw.get(
            "/service/token",
            params={"service": SERVICE, "offline_token": "true", "client_id": "x"},
            auth=("admin", ADMIN_PASSWORD),
        )
    assert "refresh_token" in r.json()


async def test_jwks_publishes_the_verification_key(berth: Berth) -> None:
    async with berth.raw() as raw:
        jwks = (await raw.get("/service/token/jwks")).json()
    token = (await _token(berth, "repository:library/app:pull")).json()["token"]
    key = jwt.PyJWKSet.from_dict(jwks)[_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=SERVICE)
    assert claims["sub"] == "admin"


# --- attacks ----------------------------------------------------------------------------------


def _forge(claims: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _good_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "berth-token-issuer",
        "sub": "admin",
        "aud": SERVICE,
        "exp": now + 600,
        "nbf": now - 1,
        "iat": now,
        "jti": "x",
        "access": [{"type": "repository", "name": "library/app", "actions": ["pull", "push"]}],
    }
    claims.update(overrides)
    return claims


async def test_forged_tokens_are_refused(berth: Berth) -> None:
    async with berth.client() as c:
        await push_image(c, "library/app", "v1")
    real = (await _token(berth, "repository:library/app:pull")).json()["token"]
    assert (await _get_manifest(berth, real)).status_code == 200
    kid = _header(real)["kid"]
    async with berth.raw() as raw:
        jwks = (await raw.get("/service/token/jwks")).json()
    public_pem = jwt.PyJWKSet.from_dict(jwks)[kid].key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    unsigned = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": kid}).encode())
        .rstrip(b"=")
        .decode()
        + "."
        + base64.urlsafe_b64encode(json.dumps(_good_claims()).encode()).rstrip(b"=").decode()
        + "."
    )
    import hashlib
    import hmac

    signing_input = (
        base64.urlsafe_b64encode(
            json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode()
        ).rstrip(b"=")
        + b"."
        + base64.urlsafe_b64encode(json.dumps(_good_claims()).encode()).rstrip(b"=")
    )
    hs256_with_public_key = (
        signing_input
        + b"."
        + base64.urlsafe_b64encode(
            hmac.new(public_pem, signing_input, hashlib.sha256).digest()
        ).rstrip(b"=")
    ).decode()
    forged = {
        "alg none": unsigned,
        "HS256 keyed with the public key": hs256_with_public_key,
        "our own key, their kid": _forge(_good_claims(), own_key, "RS256", kid),
        "our own key, no kid": _forge(_good_claims(), own_key, "RS256"),
        "tampered payload": real.split(".")[0]
        + "."
        + base64.urlsafe_b64encode(json.dumps(_good_claims()).encode()).rstrip(b"=").decode()
        + "."
        + real.split(".")[2],
    }
    for what, token in forged.items():
        r = await _get_manifest(berth, token)
        assert r.status_code == 401, what
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"], what


async def test_expired_future_wrong_audience_and_issuer_are_refused(berth: Berth) -> None:
    # Sign with Berth's own key (read from its database) to isolate each claim check.
    keys = berth.app.state.backends.keys
    now = int(time.time())
    cases = {
        "expired": _good_claims(exp=now - 120, iat=now - 900, nbf=now - 900),
        "not yet valid": _good_claims(nbf=now + 600, iat=now + 600, exp=now + 1200),
        "wrong audience": _good_claims(aud="another-registry"),
        "wrong issuer": _good_claims(iss="someone-else"),
        "no exp": {k: v for k, v in _good_claims().items() if k != "exp"},
    }
    async with berth.client() as c:
        await push_image(c, "library/app", "v1")
    valid = _forge(_good_claims(), keys.private_key, "RS256", keys.kid)
    assert (await _get_manifest(berth, valid)).status_code == 200
    for what, claims in cases.items():
        r = await _get_manifest(berth, _forge(claims, keys.private_key, "RS256", keys.kid))
        assert r.status_code == 401, what


async def test_a_token_for_one_repository_does_not_open_another(berth: Berth) -> None:
    await create_project(berth, "other")
    async with berth.client() as c:
        await push_image(c, "library/app", "v1")
        await push_image(c, "other/app", "v1")
        await push_image(c, "library/second", "v1")
    token = (await _token(berth, "repository:library/app:pull")).json()["token"]
    assert (await _get_manifest(berth, token)).status_code == 200
    assert (await _get_manifest(berth, token, "other/app")).status_code == 401
    assert (await _get_manifest(berth, token, "library/second")).status_code == 401
    async with berth.raw() as raw:
        r = await raw.post(
            "/v2/library/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401
        assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


async def test_a_token_issued_before_the_project_was_recreated_is_refused(berth: Berth) -> None:
    await create_project(berth, "phoenix")
    async with berth.client() as c:
        await push_image(c, "phoenix/app", "v1")
    token = (await _token(berth, "repository:phoenix/app:pull")).json()["token"]
    assert (await _get_manifest(berth, token, "phoenix/app")).status_code == 200
    import asyncpg

    conn = await asyncpg.connect(berth.database_url)
    try:
        await conn.execute("DELETE FROM projects WHERE name = 'phoenix'")
        await conn.execute(
            "INSERT INTO projects (name, created_at) "
            "VALUES ('phoenix', now() + interval '1 minute')"
        )
    finally:
        await conn.close()
    # Made behind the server's back: announce it, as the server's own deletion does.
    await read_cache.changed(berth.app.state.backends.redis, "phoenix")
    r = await _get_manifest(berth, token, "phoenix/app")
    assert r.status_code == 401


async def test_repeated_failed_logins_are_throttled(berth: Berth) -> None:
    for _ in range(10):
        r = await _token(berth, auth=("admin", "guess"))
        assert r.status_code == 401
    # Even the right password is refused while the account is throttled.
    r = await _token(berth, auth=("admin", ADMIN_PASSWORD))
    assert r.status_code == 429
    assert r.json()["errors"][0]["code"] == "TOOMANYREQUESTS"


async def test_a_client_logged_in_moments_ago_keeps_working_while_its_account_is_guessed_at(
    berth: Berth,
) -> None:
    assert (await _token(berth, auth=("admin", ADMIN_PASSWORD))).status_code == 200
    for _ in range(10):
        assert (await _token(berth, auth=("admin", "guess"))).status_code == 401
    assert (await _token(berth, auth=("admin", "guess"))).status_code == 429
    assert (await _token(berth, auth=("admin", "another-guess"))).status_code == 429
    assert (await _token(berth, auth=("admin", ADMIN_PASSWORD))).status_code == 200


async def test_a_burst_of_parallel_guesses_is_throttled_like_serial_ones(berth: Berth) -> None:
    # 59 wrong guesses and the right password, all in flight at once: no more guesses may be
    # checked than the limit (10) allows one after another, whatever order they land in. The
    # right password gets through only when it was checked before the tenth failure, as it
    # would one after another.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=berth.url, timeout=60, limits=limits) as client:

        async def attempt(password: str) -> int:
            r = await client.get(
                "/service/token", params={"service": SERVICE}, auth=("admin", password)
            )
            return r.status_code

        passwords = [f"guess-{i}" for i in range(59)] + [ADMIN_PASSWORD]
        statuses = await asyncio.gather(*(attempt(p) for p in passwords))
    assert set(statuses) <= {200, 401, 429}, statuses
    assert statuses.count(401) == 10, sorted(statuses)
    # The account is now throttled: guessing cannot go on.
    r = await _token(berth, auth=("admin", "guess-60"))
    assert r.status_code == 429
    # The right password is refused too, unless it was accepted in the burst: a login verified
    # moments ago is remembered and is no guess, so a client already logged in keeps working
    # while someone else guesses.
    r = await _token(berth, auth=("admin", ADMIN_PASSWORD))
    assert r.status_code == (200 if 200 in statuses else 429), sorted(statuses)


async def test_a_token_for_a_project_deleted_and_made_again_at_once_is_refused(
    berth: Berth,
) -> None:
    # Within the same second, and well within the clock leeway: only the project's identity
    # tells the two apart.
    async with httpx.AsyncClient(base_url=berth.url, auth=("admin", ADMIN_PASSWORD)) as api:
        await create_project(berth, "phoenix")
        async with berth.client() as c:
            await push_image(c, "phoenix/app", "v1")
        token = (await _token(berth, "repository:phoenix/app:pull,push")).json()["token"]
        assert (await _get_manifest(berth, token, "phoenix/app")).status_code == 200
        r = await api.delete("/api/v2.0/projects/phoenix/repositories/app")
        assert r.status_code == 200, r.text
        r = await api.delete("/api/v2.0/projects/phoenix")
        assert r.status_code == 200, r.text
        await create_project(berth, "phoenix")
    async with berth.client() as c:
        await push_image(c, "phoenix/app", "v1")
    r = await _get_manifest(berth, token, "phoenix/app")
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    async with berth.raw() as raw:
        r = await raw.post(
            "/v2/phoenix/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401
    # A token asked for now works.
    token = (await _token(berth, "repository:phoenix/app:pull")).json()["token"]
    assert (await _get_manifest(berth, token, "phoenix/app")).status_code == 200
