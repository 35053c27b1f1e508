"""``/metrics``: Prometheus' text format, every process's samples plus the registry's gauges.

Authorization: none by default, as Prometheus exporters usually are (the numbers name projects
and counts, never secrets); ``BERTH_METRICS__TOKEN`` asks scrapers for
``Authorization: Bearer <token>`` (compared in constant time), and ``BERTH_METRICS__PORT``
moves ``/metrics`` to a port of its own (:class:`MetricsPortGuard`), one a firewall can keep
for the scrapers.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

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

PATH = "/metrics"


class MetricsPortGuard:
    """With a metrics port: that port answers only ``/metrics``, and the main port no longer
    does. The port a request came in on is the listening socket's (``scope["server"]``)."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server") or ("", None)
            if (server[1] == self.port) != (scope["path"] == PATH):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)
