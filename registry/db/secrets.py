"""The secret key's check value, and the rows that hold sealed secrets, for sealing those
stored in clear before Berth sealed them."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor


async def key_check(db: Executor) -> str | None:
    sealed: str | None = await db.fetchval("SELECT sealed FROM secret_key_check")
    return sealed


async def add_key_check(db: Executor, sealed: str) -> None:
    """Record the check value unless one is recorded already (another process was first)."""
    await db.execute(
        "INSERT INTO secret_key_check (sealed) VALUES ($1) ON CONFLICT DO NOTHING", sealed
    )


async def configuration_value(db: Executor, key: str) -> Any:
    return await db.fetchval("SELECT value FROM configurations WHERE key = $1", key)


async def replace_configuration_value(db: Executor, key: str, old: Any, new: Any) -> None:
    """Store ``new`` for ``key`` if it still holds ``old`` (a concurrent change wins)."""
    await db.execute(
        "UPDATE configurations SET value = $3 WHERE key = $1 AND value = $2", key, old, new
    )


async def webhook_targets(db: Executor) -> list[asyncpg.Record]:
    """(id, targets) of every webhook policy."""
    return await db.fetch("SELECT id, targets FROM webhook_policies ORDER BY id")


async def replace_webhook_targets(
    db: Executor, policy_id: int, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    await db.execute(
        "UPDATE webhook_policies SET targets = $3 WHERE id = $1 AND targets = $2",
        policy_id,
        old,
        new,
    )


async def webhook_job_targets(db: Executor, kind: str) -> list[asyncpg.Record]:
    """(id, target) of the delivery jobs whose parameters carry a target auth header."""
    return await db.fetch(
        "SELECT id, parameters->'target' AS target FROM jobs "
        "WHERE kind = $1 AND coalesce(parameters->'target'->>'auth_header', '') <> '' "
        "ORDER BY id",
        kind,
    )


async def replace_webhook_job_target(
    db: Executor, job_id: int, old: dict[str, Any], new: dict[str, Any]
) -> None:
    await db.execute(
        "UPDATE jobs SET parameters = jsonb_set(parameters, '{target}', $3) "
        "WHERE id = $1 AND parameters->'target' = $2",
        job_id,
        old,
        new,
    )
