"""Where request paths report events. Each function schedules the notification on the running
event loop and returns at once: looking up policies and starting delivery jobs never slows
down or fails the request that caused the event.

``host`` is the registry host clients use (``registry.example`` or ``host:port``), as it
appears in ``resource_url``; left out, it comes from ``external_url`` (or ``host:port``).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import urlsplit

from registry.config import Settings
from registry.db import quotas, webhooks
from registry.events import (
    QUOTA_EXCEED,
    QUOTA_WARNING,
    TAG_RETENTION,
    Event,
    Resource,
    artifact_resource,
)
from registry.rbac import ProjectRef
from registry.services import read_cache, replication_trigger, webhook
from registry.services.context import Backends
from registry.services.quota import human_size

log = logging.getLogger(__name__)

QUOTA_WARNING_PERCENT = 85
# Once warned, a project is not warned again for a day unless its usage dropped below the
# threshold in between (pushes then re-arm the warning).
_QUOTA_WARNING_REARM_SECONDS = 24 * 3600


def registry_host(settings: Settings) -> str:
    if settings.external_url:
        return urlsplit(settings.external_url).netloc or settings.external_url
    # An IPv6 address takes brackets before a port (RFC 3986), or the port reads as part of it.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{settings.port}"


def _schedule(b: Backends, work: Coroutine[Any, Any, None]) -> None:
    b.background.spawn(work, "a webhook notification")


async def wait_pending(b: Backends) -> None:
    """Let scheduled notifications finish (at shutdown, before the backends close; wrap it in
    ``asyncio.timeout`` to bound the wait)."""
    await b.background.wait()


async def _notify_artifact(
    b: Backends,
    event_type: str,
    project: ProjectRef,
    repository: str,
    digest: str,
    tag: str | None,
    operator: str,
    host: str | None,
    scan_overview: Mapping[str, Any] | None = None,
) -> None:
    if not await b.webhook_subscriptions.wants(b.db, project.id, event_type):
        return
    created = await webhooks.repository_created_at(b.db, repository)
    resource = artifact_resource(host or registry_host(b.settings), repository, digest, tag)
    if scan_overview is not None:
        resource = Resource(resource.tag, resource.digest, resource.resource_url, scan_overview)
    event = Event(
        type=event_type,
        project_id=project.id,
        project_name=project.name,
        repository=repository,
        operator=operator,
        resources=(resource,),
        public=project.public,
        repository_created=int(created.timestamp()) if created is not None else None,
    )
    await webhook.notify(b, event)


def artifact_event(
    b: Backends,
    event_type: str,
    project: ProjectRef,
    repository: str,
    digest: str,
    tag: str | None,
    operator: str,
    *,
    host: str | None = None,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    """An artifact was pushed (PUSH_ARTIFACT, by tag or by digest with ``tag`` None), pulled
    (PULL_ARTIFACT: GET, not HEAD) or deleted (DELETE_ARTIFACT, ``tag`` its first tag);
    ``facts``, the project's as the request found them, spare the replication lookup."""
    # Most pulls are of projects without webhooks: no task for each of them just to learn that.
    if not b.webhook_subscriptions.surely_unwanted(project.id, event_type):
        _schedule(
            b, _notify_artifact(b, event_type, project, repository, digest, tag, operator, host)
        )
    if replication_trigger.follows(event_type):  # not pulls: no task per pull for nothing
        _schedule(
            b, replication_trigger.on_local_event(b, event_type, repository, digest, tag, facts)
        )


async def _notify_quota(
    b: Backends,
    event_type: str,
    project: ProjectRef,
    repository: str,
    message: str,
    operator: str,
    digest: str,
    tag: str | None,
) -> None:
    # Harbor names the blob or artifact that hit the limit, without a resource_url, and puts
    # its message under custom_attributes.Details.
    resources = (Resource(tag=tag or "", digest=digest),) if digest or tag else ()
    event = Event(
        type=event_type,
        project_id=project.id,
        project_name=project.name,
        repository=repository,
        operator=operator,
        resources=resources,
        public=project.public,
        extra={"custom_attributes": {"Details": message}},
    )
    await webhook.notify(b, event)


def quota_exceeded(
    b: Backends,
    project: ProjectRef,
    repository: str,
    message: str,
    operator: str,
    *,
    digest: str = "",
    tag: str | None = None,
) -> None:
    """A push was refused for the project's storage quota (``message`` as QuotaExceeded says)."""
    _schedule(
        b, _notify_quota(b, QUOTA_EXCEED, project, repository, message, operator, digest, tag)
    )


async def _warn_quota(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: str,
    tag: str | None,
    operator: str,
    facts: read_cache.ProjectFacts | None,
) -> None:
    hard = facts.hard_storage if facts is not None else None
    if hard is None:
        hard = await quotas.hard_limit(b.db, project.id)
        if facts is not None and facts.live:
            facts.hard_storage = hard
    if hard <= 0:
        return
    used = await quotas.usage(b.db, project.id)
    key = f"berth:webhook:quota-warning:{project.id}"
    if used * 100 < hard * QUOTA_WARNING_PERCENT:
        await b.redis.delete(key)
        return
    # Only the push that takes usage over the threshold warns, not every push after it.
    if not await b.redis.set(key, "1", nx=True, ex=_QUOTA_WARNING_REARM_SECONDS):
        return
    message = (
        f"quota usage reach {used * 100 // hard}%: resource storage used "
        f"{human_size(used)} of {human_size(hard)}"
    )
    await _notify_quota(b, QUOTA_WARNING, project, repository, message, operator, digest, tag)


def quota_warning_if_needed(
    b: Backends,
    project: ProjectRef,
    repository: str,
    digest: str,
    tag: str | None,
    operator: str,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    """After a successful push: warn (QUOTA_WARNING) when it took the project's storage over
    85% of its hard limit."""
    _schedule(b, _warn_quota(b, project, repository, digest, tag, operator, facts))


async def notify_tag_retention(
    b: Backends, project: ProjectRef, summary: Mapping[str, Any], operator: str
) -> None:
    host = urlsplit(f"//{registry_host(b.settings)}").hostname or ""
    retention = {**summary, "harbor_hostname": host, "project_name": project.name}
    event = Event(
        type=TAG_RETENTION,
        project_id=project.id,
        project_name=project.name,
        operator=operator,
        public=project.public,
        extra={"retention": retention},
    )
    await webhook.notify(b, event)


def tag_retention(
    b: Backends, project: ProjectRef, summary: Mapping[str, Any], *, operator: str = ""
) -> None:
    """A tag retention run finished. ``summary`` is Harbor's ``event_data.retention``:
    ``total``, ``retained``, ``retention_policy_id``, ``result``, ``retention_rule``,
    ``deleted_artifact`` ([{type, status, name_tag}]); ``operator`` the trigger (MANUAL,
    SCHEDULE) as Harbor names it."""
    _schedule(b, notify_tag_retention(b, project, summary, operator))


def scan_event(
    b: Backends,
    event_type: str,
    project: ProjectRef,
    repository: str,
    digest: str,
    tag: str | None,
    operator: str,
    overview: Mapping[str, Any],
) -> None:
    """A scan finished (SCANNING_COMPLETED), failed (SCANNING_FAILED) or was stopped
    (SCANNING_STOPPED); ``overview`` is the artifact's scan overview as the API shows it."""
    _schedule(
        b,
        _notify_artifact(b, event_type, project, repository, digest, tag, operator, None, overview),
    )


async def _notify_chart(
    b: Backends, event_type: str, project: ProjectRef, name: str, version: str, operator: str
) -> None:
    if not await b.webhook_subscriptions.wants(b.db, project.id, event_type):
        return
    # Harbor names the chart version in ``tag`` and its archive in ``resource_url``.
    url = f"{registry_host(b.settings)}/chartrepo/{project.name}/charts/{name}-{version}.tgz"
    event = Event(
        type=event_type,
        project_id=project.id,
        project_name=project.name,
        repository=f"{project.name}/{name}",
        operator=operator,
        resources=(Resource(tag=version, resource_url=url),),
        public=project.public,
    )
    await webhook.notify(b, event)


def chart_event(
    b: Backends, event_type: str, project: ProjectRef, name: str, version: str, operator: str
) -> None:
    """A chart version was uploaded (UPLOAD_CHART), downloaded (DOWNLOAD_CHART) or deleted
    (DELETE_CHART) through the chart repository."""
    _schedule(b, _notify_chart(b, event_type, project, name, version, operator))


def tag_event(b: Backends, event_type: str, repository: str, digest: str, tag: str) -> None:
    """A tag was made on an existing artifact (CREATE_TAG) or removed from one that stays
    (DELETE_TAG). No webhook reports these (Harbor sends none); event-based replication
    follows them."""
    _schedule(b, replication_trigger.on_local_event(b, event_type, repository, digest, tag))
