"""Scanner registrations and which one each project uses."""

from __future__ import annotations

from typing import Any

import asyncpg

from registry.db.pool import Executor

_COLUMNS = (
    "id, uuid, name, description, url, auth, access_credential, skip_cert_verify, "
    "use_internal_addr, disabled, is_default, immutable, created_at, updated_at"
)
_FIELDS = (
    "name",
    "description",
    "url",
    "auth",
    "access_credential",
    "skip_cert_verify",
    "use_internal_addr",
    "disabled",
)


async def list_all(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT {_COLUMNS} FROM scanner_registrations ORDER BY id"  # noqa: S608 — constant
    )


async def get(db: Executor, uuid: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM scanner_registrations WHERE uuid = $1",  # noqa: S608
        uuid,
    )


async def get_by_id(db: Executor, registration_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM scanner_registrations WHERE id = $1",  # noqa: S608
        registration_id,
    )


async def get_by_name(db: Executor, name: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM scanner_registrations WHERE name = $1",  # noqa: S608
        name,
    )


async def get_default(db: Executor) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"SELECT {_COLUMNS} FROM scanner_registrations WHERE is_default",  # noqa: S608
    )


async def create(
    db: Executor, uuid: str, values: dict[str, Any], *, immutable: bool = False
) -> int:
    registration_id: int = await db.fetchval(
        """
        INSERT INTO scanner_registrations (uuid, name, description, url, auth,
            access_credential, skip_cert_verify, use_internal_addr, disabled, immutable)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
        """,
        uuid,
        *(values[f] for f in _FIELDS),
        immutable,
    )
    return registration_id


async def update(db: Executor, uuid: str, values: dict[str, Any]) -> None:
    await db.execute(
        """
        UPDATE scanner_registrations SET name = $2, description = $3, url = $4, auth = $5,
            access_credential = $6, skip_cert_verify = $7, use_internal_addr = $8,
            disabled = $9, updated_at = now()
        WHERE uuid = $1
        """,
        uuid,
        *(values[f] for f in _FIELDS),
    )


async def delete(db: Executor, uuid: str) -> None:
    await db.execute("DELETE FROM scanner_registrations WHERE uuid = $1", uuid)


async def set_default(db: Executor, uuid: str) -> None:
    await db.execute(
        "UPDATE scanner_registrations SET is_default = FALSE WHERE is_default AND uuid <> $1",
        uuid,
    )
    await db.execute(
        "UPDATE scanner_registrations SET is_default = TRUE, updated_at = now() WHERE uuid = $1",
        uuid,
    )


async def of_project(db: Executor, project_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM scanner_registrations
        WHERE id = (SELECT registration_id FROM project_scanners WHERE project_id = $1)
        """,  # noqa: S608 — constant columns
        project_id,
    )


async def set_for_project(db: Executor, project_id: int, registration_id: int) -> None:
    await db.execute(
        """
        INSERT INTO project_scanners (project_id, registration_id) VALUES ($1, $2)
        ON CONFLICT (project_id) DO UPDATE SET registration_id = EXCLUDED.registration_id
        """,
        project_id,
        registration_id,
    )
