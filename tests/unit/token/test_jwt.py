"""Registry tokens: what an issued token carries and every reason one is refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from registry.token.jwt import (
    LEEWAY_SECONDS,
    Claims,
    InvalidTokenError,
    VerifiedTokens,
    issue,
    verify,
)
from registry.token.keys import KeyRing
from registry.token.scope import Scope
from tests.unit.signing import new_key_ring

ISSUER = "berth-token-issuer"
AUDIENCE = "registry.example"


@pytest.fixture(scope="module")
def other_keys() -> KeyRing:
    return new_key_ring()


def pull_push(name: str = "team/app") -> Scope:
    return Scope("repository", name, frozenset({"pull", "push"}))


def access_token(keys: KeyRing, ttl_seconds: int = 300, **kwargs: Any) -> str:
    return issue(
        keys,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="alice",
        access=[pull_push()],
        ttl_seconds=ttl_seconds,
        **kwargs,
    ).token


def signed(keys: KeyRing, **overrides: Any) -> str:
    """A token with the claims Berth issues, some replaced or (None) left out."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "exp": now + 300,
        "nbf": now - 1,
        "iat": now,
        "access": [],
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})


def check(keys: KeyRing, token: str, kind: str = "access") -> Claims:
    return verify(keys, token, issuer=ISSUER, audience=AUDIENCE, kind=kind)


def test_an_issued_token_verifies_to_what_was_granted(keys: KeyRing) -> None:
    before = int(time.time())
    issued = issue(
        keys,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="alice",
        access=[pull_push(), Scope("registry", "catalog", frozenset({"*"}))],
        ttl_seconds=300,
        projects={"team": 7},
    )
    assert issued.expires_in == 300
    assert before <= issued.issued_at <= int(time.time())
    claims = check(keys, issued.token)
    assert claims.subject == "alice"
    assert claims.kind == "access"
    assert claims.issued_at == issued.issued_at
    assert claims.expires_at == issued.issued_at + 300
    assert claims.access == {
        ("repository", "team/app"): {"pull", "push"},
        ("registry", "catalog"): {"*"},
    }
    assert claims.projects == {"team": 7}
    assert claims.credential == ""


def test_the_header_names_the_signing_key_and_tokens_are_unique(keys: KeyRing) -> None:
    token = access_token(keys)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": keys.kid, "typ": "JWT"}
    assert token != access_token(keys)  # a fresh jti each time


def test_allows_reads_the_granted_actions() -> None:
    claims = Claims(
        "alice",
        0,
        {
            ("repository", "team/app"): frozenset({"pull"}),
            ("registry", "catalog"): frozenset({"*"}),
        },
        "access",
    )
    assert claims.allows("repository", "team/app", "pull")
    assert not claims.allows("repository", "team/app", "push")
    assert not claims.allows("repository", "team/other", "pull")
    assert claims.allows("registry", "catalog", "anything")


def test_a_refresh_token_carries_its_credential_and_is_no_access_token(keys: KeyRing) -> None:
    token = access_token(keys, kind="refresh", credential="digest-of-secret")
    claims = check(keys, token, kind="refresh")
    assert (claims.kind, claims.credential) == ("refresh", "digest-of-secret")
    with pytest.raises(InvalidTokenError, match="not an access token"):
        check(keys, token)
    with pytest.raises(InvalidTokenError, match="not an refresh token"):
        check(keys, access_token(keys), kind="refresh")


def test_a_token_from_before_projects_were_recorded_has_none(keys: KeyRing) -> None:
    assert check(keys, access_token(keys)).projects is None
    assert check(keys, signed(keys, prj=["team"])).projects is None
    # Only integer ids count; anything else in the claim is dropped.
    assert check(keys, signed(keys, prj={"team": 7, "odd": "8"})).projects == {"team": 7}


def test_access_entries_of_one_resource_are_merged_and_junk_is_ignored(keys: KeyRing) -> None:
    token = signed(
        keys,
        access=[
            {"type": "repository", "name": "team/app", "actions": ["pull"]},
            "not an entry",
            {"type": "repository", "name": "team/app", "actions": ["push"]},
            {"type": "repository", "name": "team/empty", "actions": None},
        ],
    )
    assert check(keys, token).access == {
        ("repository", "team/app"): {"pull", "push"},
        ("repository", "team/empty"): frozenset(),
    }


def test_clock_drift_within_the_leeway_is_tolerated(keys: KeyRing) -> None:
    token = access_token(keys, ttl_seconds=-(LEEWAY_SECONDS // 2))
    assert check(keys, token).subject == "alice"


def test_an_expired_token_is_refused(keys: KeyRing) -> None:
    with pytest.raises(InvalidTokenError, match="expired"):
        check(keys, access_token(keys, ttl_seconds=-(LEEWAY_SECONDS + 30)))


def test_a_token_not_valid_yet_is_refused(keys: KeyRing) -> None:
    with pytest.raises(InvalidTokenError, match="not yet valid"):
        check(keys, signed(keys, nbf=int(time.time()) + LEEWAY_SECONDS + 60))


def test_another_audience_or_issuer_is_refused(keys: KeyRing) -> None:
    token = access_token(keys)
    with pytest.raises(InvalidTokenError, match=r"(?i)audience"):
        verify(keys, token, issuer=ISSUER, audience="other.example")
    with pytest.raises(InvalidTokenError, match=r"(?i)issuer"):
        verify(keys, token, issuer="someone-else", audience=AUDIENCE)


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub"])
def test_every_required_claim_must_be_present(keys: KeyRing, claim: str) -> None:
    with pytest.raises(InvalidTokenError, match=claim):
        check(keys, signed(keys, **{claim: None}))


def test_a_token_signed_by_an_unknown_key_is_refused(keys: KeyRing, other_keys: KeyRing) -> None:
    with pytest.raises(InvalidTokenError, match="unknown key"):
        check(keys, access_token(other_keys))


def test_a_known_kid_with_another_keys_signature_is_refused(
    keys: KeyRing, other_keys: KeyRing
) -> None:
    forged = KeyRing(keys.kid, other_keys.private_key, {})
    with pytest.raises(InvalidTokenError, match="Signature verification failed"):
        check(keys, access_token(forged))


def test_a_tampered_payload_is_refused(keys: KeyRing) -> None:
    header, payload, signature = access_token(keys).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidTokenError, match="Signature verification failed"):
        check(keys, f"{header}.{forged}.{signature}")


def test_only_rs256_is_accepted(keys: KeyRing) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "exp": now + 60, "iat": now}
    hmac = jwt.encode(claims, "a shared secret of thirty-two bytes!", algorithm="HS256")
    with pytest.raises(InvalidTokenError, match="only RS256"):
        check(keys, hmac)
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": keys.kid})
    with pytest.raises(InvalidTokenError, match="only RS256"):
        check(keys, unsigned)


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_a_malformed_token_is_refused(keys: KeyRing, token: str) -> None:
    with pytest.raises(InvalidTokenError, match="malformed token"):
        check(keys, token)


def test_verified_tokens_are_remembered_until_they_expire(keys: KeyRing) -> None:
    cache = VerifiedTokens()
    token = access_token(keys)
    first = cache.verify(keys, token, issuer=ISSUER, audience=AUDIENCE)
    assert cache.verify(keys, token, issuer=ISSUER, audience=AUDIENCE) is first
    # Close to its expiry a token is checked afresh each time.
    short = access_token(keys, ttl_seconds=LEEWAY_SECONDS // 2)
    once = cache.verify(keys, short, issuer=ISSUER, audience=AUDIENCE)
    again = cache.verify(keys, short, issuer=ISSUER, audience=AUDIENCE)
    assert once == again
    assert once is not again


def test_a_remembered_token_does_not_vouch_for_a_tampered_copy(keys: KeyRing) -> None:
    cache = VerifiedTokens()
    token = access_token(keys)
    cache.verify(keys, token, issuer=ISSUER, audience=AUDIENCE)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(InvalidTokenError):
        cache.verify(keys, f"{header}.{payload}.{flipped}", issuer=ISSUER, audience=AUDIENCE)


def test_a_full_cache_starts_over(keys: KeyRing) -> None:
    cache = VerifiedTokens(capacity=1)
    first_token, second_token = access_token(keys), access_token(keys)
    first = cache.verify(keys, first_token, issuer=ISSUER, audience=AUDIENCE)
    cache.verify(keys, second_token, issuer=ISSUER, audience=AUDIENCE)
    assert cache.verify(keys, first_token, issuer=ISSUER, audience=AUDIENCE) is not first
