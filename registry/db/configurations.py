"""System configuration stored as key → JSON value (Harbor's /configurations)."""

from __future__ import annotations

from typing import Any

from registry.db.pool import Executor


async def load(db: Executor) -> dict[str, Any]:
    rows = await db.fetch("SELECT key, value FROM configurations")
    return {r["key"]: r["value"] for r in rows}


async def save(db: Executor, values: dict[str, Any]) -> None:
    await db.executemany(
        """
        INSERT INTO configurations (key, value) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        """,
        list(values.items()),
    )


async def seed(db: Executor, values: dict[str, Any]) -> None:
    """Store values for keys never set, leaving everything already configured alone."""
    await db.executemany(
        "INSERT INTO configurations (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        list(values.items()),
    )
