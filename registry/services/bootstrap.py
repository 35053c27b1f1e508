"""First-start state: the admin account and the public ``library`` project."""

from __future__ import annotations

import logging
from typing import Any

from registry.auth.password import generate_password, hash_password
from registry.db import projects, quotas, users
from registry.db.pool import Pool
from registry.services.configuration import seed_configuration

log = logging.getLogger(__name__)

ADMIN = "admin"
DEFAULT_PROJECT = "library"


async def bootstrap(
    db: Pool, admin_password: str | None, configuration: dict[str, Any] | None = None
) -> str | None:
    """Create what a new installation needs; return the admin password if one was generated."""
    generated = None
    async with db.acquire() as conn, conn.transaction():
        admin = await users.get_by_username(conn, ADMIN)
        if admin is None:
            password = admin_password or generate_password()
            generated = None if admin_password else password
            admin_id = await users.create(conn, ADMIN, hash_password(password), sysadmin=True)
            log.info("created the %s account", ADMIN)
        else:
            admin_id = admin["id"]
        await seed_configuration(conn, configuration or {})
        if await projects.get_by_name(conn, DEFAULT_PROJECT) is None:
            project_id = await projects.create(
                conn, DEFAULT_PROJECT, public=True, owner_id=admin_id
            )
            assert project_id is not None
            await quotas.ensure(conn, project_id)
            log.info("created the public project %s", DEFAULT_PROJECT)
    return generated
