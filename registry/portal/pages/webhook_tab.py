"""A project's Webhooks tab: its policies, each with its state, events, target and its recent
deliveries (status, event, when), newest first."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from registry.events import EVENT_TYPES
from registry.portal.security import backends
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services import webhook_policy

LIST_SIZE = 100
RECENT = 5  # deliveries shown per policy


def _delivery(row: Any) -> dict[str, Any]:
    parameters = row["parameters"] or {}
    return {
        "id": row["id"],
        "status": row["status"],
        "event": parameters.get("event_type", ""),
        "created": row["created_at"],
        "ended": row["ended_at"],
    }


async def webhooks_tab(request: Request, project: ProjectRef) -> dict[str, Any]:
    b = backends(request)
    rows, total = await webhook_policy.list_policies(b, project, ListQuery(page_size=LIST_SIZE))
    policies = []
    for row in rows:
        deliveries, _ = await webhook_policy.list_deliveries(b, row, ListQuery(page_size=RECENT))
        targets = [t for t in row["targets"] or [] if isinstance(t, dict)]
        policies.append(
            {
                "id": row["id"],
                "name": row["name"],
                "description": row["description"] or "",
                "enabled": row["enabled"],
                "events": ", ".join(row["event_types"] or []),
                "targets": ", ".join(str(t.get("address", "")) for t in targets),
                "deliveries": [_delivery(d) for d in deliveries],
            }
        )
    return {"policies": policies, "total": total, "event_types": EVENT_TYPES}
