"""Finding projects: by name or id, and the one a repository name belongs to."""

from __future__ import annotations

import asyncpg

from registry.db import projects
from registry.db.pool import Executor, Pool
from registry.oci.names import is_valid_repository, project_of
from registry.rbac import ProjectRef
from registry.services.errors import NameInvalid, NameUnknown


def check_repository_name(repository: str) -> None:
    if not is_valid_repository(repository):
        raise NameInvalid(
            "invalid repository name: lower-case components separated by '/', "
            "starting with the project",
            detail={"name": repository},
        )


async def project_for(db: Pool, repository: str) -> ProjectRef:
    """The project that holds ``repository``; NameInvalid/NameUnknown otherwise."""
    check_repository_name(repository)
    row = await projects.get_by_name(db, project_of(repository))
    if row is None:
        raise NameUnknown(
            f"project {project_of(repository)!r} does not exist", {"name": repository}
        )
    return ProjectRef(id=row["id"], name=row["name"], public=row["public"])


# Project ids are BIGINT; a longer run of digits can only be a name.
_MAX_ID = 2**63 - 1


def _as_id(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


def _ref(row: asyncpg.Record | None) -> ProjectRef | None:
    if row is None:
        return None
    return ProjectRef(row["id"], row["name"], row["public"], row["created_at"])


async def find_by_id(db: Executor, project_id: int) -> ProjectRef | None:
    return _ref(await projects.get_by_id(db, project_id))


async def find_project(db: Executor, name_or_id: str, *, by_name: bool) -> ProjectRef | None:
    """As Harbor addresses projects: digits are an id unless ``by_name`` says they are a name
    (``X-Is-Resource-Name``)."""
    if not by_name and name_or_id.isascii() and name_or_id.isdigit():
        project_id = _as_id(name_or_id)
        return None if project_id is None else await find_by_id(db, project_id)
    return _ref(await projects.get_by_name(db, name_or_id))
