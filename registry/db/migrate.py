"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied once each, in order.

Replicas may start together, so the runner takes an advisory lock; each file runs in its own
transaction with lock and statement timeouts so a migration never hangs behind live traffic.
"""

from __future__ import annotations

import logging
from importlib import resources

from registry.db.pool import Connection

log = logging.getLogger(__name__)

_LOCK_KEY = 0x42455254  # "BERT": any fixed number shared by every Berth process

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration shipped with Berth, by version."""
    found = []
    for entry in resources.files("registry.db.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append((int(version), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    return sorted(found)


async def migrate(conn: Connection) -> list[str]:
    """Apply pending migrations; return the names applied."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in available_migrations():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '10s'")
                await conn.execute("SET LOCAL statement_timeout = '300s'")
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            log.info("applied migration %04d_%s", version, name)
            applied.append(f"{version:04d}_{name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied
