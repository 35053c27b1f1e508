"""Finding the project a repository name belongs to."""

from __future__ import annotations

from registry.db import projects
from registry.db.pool import Pool
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
