"""CVE allowlists: vulnerabilities the prevent-vulnerable-pulls policy ignores, system-wide
(``/system/CVEAllowlist``) or per project (the project's ``cve_allowlist``, used unless the
project's ``reuse_sys_cve_allowlist`` is on)."""

from __future__ import annotations

import re
import time
from typing import Any

from registry.auth.principal import Principal
from registry.db import cve_allowlists
from registry.rbac import ProjectRef
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import InvalidRequest

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _items(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest('items must be a list of {"cve_id": …}')
    found: dict[str, dict[str, str]] = {}
    for item in raw:
        cve = item.get("cve_id") if isinstance(item, dict) else None
        if not isinstance(cve, str) or not _ID.fullmatch(cve.strip()):
            raise InvalidRequest("each item needs a cve_id such as CVE-2023-1234")
        found[cve.strip()] = {"cve_id": cve.strip()}
    return list(found.values())


def _expires(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise InvalidRequest("expires_at must be Unix seconds")
    return raw or None


async def get(b: Backends, project: ProjectRef | None) -> dict[str, Any]:
    """Harbor's CVEAllowlist object (empty when none was set)."""
    row = await cve_allowlists.get(b.db, project.id if project else None)
    if row is None:
        return {
            "id": 0,
            "project_id": project.id if project else 0,
            "items": [],
            "expires_at": None,
        }
    return {
        "id": row["id"],
        "project_id": row["project_id"] or 0,
        "items": row["items"],
        "expires_at": row["expires_at"],
        "creation_time": row["created_at"],
        "update_time": row["updated_at"],
    }


async def put(
    b: Backends, actor: Principal, project: ProjectRef | None, body: dict[str, Any]
) -> None:
    items = _items(body.get("items"))
    expires = _expires(body.get("expires_at"))
    await cve_allowlists.put(b.db, project.id if project else None, items, expires)
    await b.audit.record(
        AuditEvent(
            "update",
            "cve_allowlist",
            project.name if project else "system",
            actor.name,
            project.id if project else None,
        )
    )


async def effective(b: Backends, project: ProjectRef, metadata: dict[str, str]) -> set[str]:
    """The CVE ids the project's pull policy ignores right now (an expired list is empty)."""
    own = metadata.get("reuse_sys_cve_allowlist", "true") != "true"
    row = await cve_allowlists.get(b.db, project.id if own else None)
    if row is None:
        return set()
    if row["expires_at"] is not None and row["expires_at"] <= time.time():
        return set()
    return {str(item["cve_id"]) for item in row["items"] or []}
