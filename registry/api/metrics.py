"""``/metrics``: Prometheus' text format, every process's samples plus the registry's gauges.

Authorization: none by default, as Prometheus exporters usually are (the numbers name projects
and counts, never secrets); ``BERTH_METRICS__TOKEN`` asks scrapers for
``Authorization: Bearer <token>`` (compared in constant time).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from registry.metrics.exposition import Gauge, render
from registry.services import inventory
from registry.services.context import Backends


def _authorized(request: Request, token: str | None) -> bool:
    if not token:
        return True
    sent = request.headers.get("authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


def gauges(found: inventory.Inventory) -> list[Gauge]:
    projects = Gauge("berth_projects", "Projects")
    projects.add(found.projects)
    repositories = Gauge("berth_repositories", "Repositories")
    repositories.add(found.repositories)
    artifacts = Gauge("berth_artifacts", "Artifacts")
    artifacts.add(found.artifacts)
    used = Gauge("berth_project_quota_usage_bytes", "Storage a project uses", ("project",))
    hard = Gauge(
        "berth_project_quota_limit_bytes", "A project's storage limit (-1: none)", ("project",)
    )
    for usage in found.usage:
        used.add(usage.used, usage.name)
        hard.add(usage.hard, usage.name)
    queue = Gauge("berth_job_queue_depth", "Jobs waiting for a worker, by kind", ("kind",))
    for kind, waiting in sorted(found.pending_jobs.items()):
        queue.add(waiting, kind)
    return [projects, repositories, artifacts, used, hard, queue]


async def metrics(request: Request) -> Response:
    b: Backends = request.state.backends
    token = b.settings.metrics.token
    if not _authorized(request, token.get_secret_value() if token else None):
        return PlainTextResponse(
            "authorization required", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body, content_type = render(gauges(await inventory.snapshot(b)))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


routes = [Route("/metrics", metrics, methods=["GET"])]
