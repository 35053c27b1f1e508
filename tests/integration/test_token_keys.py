"""Token signing keys: generated once and shared through the database, or read from a file."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from registry.db.migrate import migrate
from registry.db.pool import open_pool
from registry.token import jwt
from registry.token.keys import key_id, load_key_ring
from registry.token.scope import Scope


async def test_replicas_share_the_generated_key_and_a_key_file_wins(
    database_url: str, tmp_path: Path
) -> None:
    pool = await open_pool(database_url, size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        first = await load_key_ring(pool)
        second = await load_key_ring(pool)
        assert first.kid == second.kid
        token = jwt.issue(
            first,
            issuer="i",
            audience="a",
            subject="s",
            access=[Scope("repository", "p/r", frozenset({"pull"}))],
            ttl_seconds=60,
        ).token
        assert jwt.verify(second, token, issuer="i", audience="a").allows(
            "repository", "p/r", "pull"
        )

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file = tmp_path / "token.key"
        key_file.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        from_file = await load_key_ring(pool, key_file)
        assert from_file.kid == key_id(private.public_key())
        # Tokens signed with the stored key still verify on a replica using the file.
        assert jwt.verify(from_file, token, issuer="i", audience="a").subject == "s"
        assert {first.kid, from_file.kid} <= {k["kid"] for k in from_file.jwks()["keys"]}
    finally:
        await pool.close()


async def test_processes_starting_together_sign_with_one_key(database_url: str) -> None:
    """The first start of a replica's web workers, job worker and scanner happens at once:
    each must end up with the same signing key, or each refuses the others' tokens."""
    # A database of its own: the shared one already holds a key.
    name = f"keys_race_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    fresh = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    pools = [await open_pool(fresh, size=1) for _ in range(6)]
    try:
        async with pools[0].acquire() as conn:
            await migrate(conn)
        rings = await asyncio.gather(*(load_key_ring(pool) for pool in pools))
        assert len({ring.kid for ring in rings}) == 1
        token = jwt.issue(
            rings[0],
            issuer="i",
            audience="a",
            subject="s",
            access=[Scope("repository", "p/r", frozenset({"pull"}))],
            ttl_seconds=60,
        ).token
        for ring in rings[1:]:
            assert jwt.verify(ring, token, issuer="i", audience="a").subject == "s"
        async with pools[0].acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM token_keys") == 1
    finally:
        for pool in pools:
            await pool.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()
