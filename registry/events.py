"""The events a webhook policy can subscribe to, and the bodies Harbor sends for them.

Harbor's default body::

    {"type": "PUSH_ARTIFACT", "occur_at": 1675156360, "operator": "admin",
     "event_data": {"resources": [{"digest": "sha256:…", "tag": "latest",
                                   "resource_url": "harbor.example/library/alpine:latest"}],
                    "repository": {"date_created": 1675155445, "name": "alpine",
                                   "namespace": "library", "repo_full_name": "library/alpine",
                                   "repo_type": "public"}}}

The CloudEvents 1.0 body (structured mode, ``application/cloudevents+json``) carries the same
``event_data`` as ``data``, Harbor's event type as ``harbor.artifact.pushed`` and the like, and
the operator as an extension attribute. Slack targets get Harbor's Slack message blocks.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PUSH_ARTIFACT = "PUSH_ARTIFACT"
PULL_ARTIFACT = "PULL_ARTIFACT"
DELETE_ARTIFACT = "DELETE_ARTIFACT"
QUOTA_EXCEED = "QUOTA_EXCEED"
QUOTA_WARNING = "QUOTA_WARNING"
SCANNING_FAILED = "SCANNING_FAILED"
SCANNING_STOPPED = "SCANNING_STOPPED"
SCANNING_COMPLETED = "SCANNING_COMPLETED"
REPLICATION = "REPLICATION"
TAG_RETENTION = "TAG_RETENTION"
UPLOAD_CHART = "UPLOAD_CHART"
DOWNLOAD_CHART = "DOWNLOAD_CHART"
DELETE_CHART = "DELETE_CHART"
# A tag made or removed on its own, the artifact staying (Harbor's internal topics): they
# drive event-based replication only, no webhook policy subscribes to them.
CREATE_TAG = "CREATE_TAG"
DELETE_TAG = "DELETE_TAG"

# Everything a policy may subscribe to, in the order Harbor lists them.
EVENT_TYPES: tuple[str, ...] = (
    DELETE_ARTIFACT,
    PULL_ARTIFACT,
    PUSH_ARTIFACT,
    QUOTA_EXCEED,
    QUOTA_WARNING,
    REPLICATION,
    SCANNING_FAILED,
    SCANNING_STOPPED,
    SCANNING_COMPLETED,
    TAG_RETENTION,
    UPLOAD_CHART,
    DOWNLOAD_CHART,
    DELETE_CHART,
)

CLOUDEVENTS_TYPES: dict[str, str] = {
    DELETE_ARTIFACT: "harbor.artifact.deleted",
    PULL_ARTIFACT: "harbor.artifact.pulled",
    PUSH_ARTIFACT: "harbor.artifact.pushed",
    QUOTA_EXCEED: "harbor.quota.exceeded",
    QUOTA_WARNING: "harbor.quota.warned",
    REPLICATION: "harbor.replication.status.changed",
    SCANNING_FAILED: "harbor.scan.failed",
    SCANNING_COMPLETED: "harbor.scan.completed",
    SCANNING_STOPPED: "harbor.scan.stopped",
    TAG_RETENTION: "harbor.tag_retention.finished",
    UPLOAD_CHART: "harbor.chart.uploaded",
    DOWNLOAD_CHART: "harbor.chart.downloaded",
    DELETE_CHART: "harbor.chart.deleted",
}

HTTP = "http"
SLACK = "slack"
DEFAULT_FORMAT = "Default"
CLOUDEVENTS_FORMAT = "CloudEvents"
NOTIFY_TYPES: tuple[str, ...] = (HTTP, SLACK)
# The payload formats a kind of target can choose from. Slack messages have one fixed shape,
# so Slack targets take no format (Harbor refuses one).
PAYLOAD_FORMATS: dict[str, tuple[str, ...]] = {HTTP: (DEFAULT_FORMAT, CLOUDEVENTS_FORMAT)}

JSON = "application/json"
CLOUDEVENTS_JSON = "application/cloudevents+json"


@dataclass(frozen=True, slots=True)
class Resource:
    """One artifact an event is about."""

    tag: str = ""
    digest: str = ""
    resource_url: str = ""
    # Scanning events: the artifact's scan overview, keyed by report MIME type, as Harbor sends.
    scan_overview: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        # Harbor leaves digest and resource_url out when empty; tag is always present.
        body: dict[str, Any] = {}
        if self.digest:
            body["digest"] = self.digest
        body["tag"] = self.tag
        if self.resource_url:
            body["resource_url"] = self.resource_url
        if self.scan_overview is not None:
            body["scan_overview"] = dict(self.scan_overview)
        return body


def _now() -> int:
    return int(time.time())


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a project, as webhooks report it.

    ``repository`` is the full name (``library/alpine``), empty for events about no single
    repository; ``occur_at`` and ``repository_created`` are Unix seconds; ``extra`` holds
    further ``event_data`` members (``custom_attributes`` of quota events, ``retention``).
    """

    type: str
    project_id: int
    project_name: str
    repository: str = ""
    operator: str = ""
    resources: tuple[Resource, ...] = ()
    occur_at: int = field(default_factory=_now)
    public: bool = False
    repository_created: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def resource_url(host: str, repository: str, tag: str | None, digest: str) -> str:
    """``<host>/<repository>:<tag>``, or ``@<digest>`` when there is no tag."""
    return f"{host}/{repository}:{tag}" if tag else f"{host}/{repository}@{digest}"


def artifact_resource(host: str, repository: str, digest: str, tag: str | None) -> Resource:
    # Harbor reports an untagged artifact with its digest in the tag field as well.
    return Resource(
        tag=tag or digest, digest=digest, resource_url=resource_url(host, repository, tag, digest)
    )


def repository_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if event.repository_created is not None:
        body["date_created"] = event.repository_created
    _, _, name = event.repository.partition("/")
    body.update(
        {
            "name": name or event.repository,
            "namespace": event.project_name,
            "repo_full_name": event.repository,
            "repo_type": "public" if event.public else "private",
        }
    )
    return body


def event_data(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if event.resources:
        data["resources"] = [r.as_json() for r in event.resources]
    if event.repository:
        data["repository"] = repository_json(event)
    data.update(event.extra)
    return data


def default_payload(event: Event) -> dict[str, Any]:
    """Harbor's own format ("Default")."""
    return {
        "type": event.type,
        "occur_at": event.occur_at,
        "operator": event.operator,
        "event_data": event_data(event),
    }


def cloudevents_payload(
    event: Event, policy_id: int, event_id: str | None = None
) -> dict[str, Any]:
    """A CloudEvents 1.0 event in structured JSON mode, as Harbor builds it."""
    occurred = datetime.fromtimestamp(event.occur_at, UTC)
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": f"/projects/{event.project_id}/webhook/policies/{policy_id}",
        "type": CLOUDEVENTS_TYPES[event.type],
        "datacontenttype": JSON,
        "time": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "operator": event.operator,
        "data": event_data(event),
    }


def slack_payload(event: Event) -> dict[str, Any]:
    """Harbor's Slack message: a few markdown sections, the event data as a code block."""

    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    data = json.dumps(event_data(event), indent=2)
    return {
        "blocks": [
            section("*Harbor webhook events*"),
            section(f"*event_type:* {event.type}"),
            section(
                f"*occur_at:* <!date^{event.occur_at}^{{date}} at {{time}}|"
                f"{datetime.fromtimestamp(event.occur_at, UTC).isoformat()}>"
            ),
            section(f"*operator:* {event.operator}"),
            section("*event_data:*"),
            section(f"```{data}```"),
        ]
    }


def body_for(
    event: Event, target: Mapping[str, Any], policy_id: int, event_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(Content-Type, JSON body) to send ``target`` about ``event``."""
    if target.get("type", HTTP) == SLACK:
        return JSON, slack_payload(event)
    if target.get("payload_format") == CLOUDEVENTS_FORMAT:
        return CLOUDEVENTS_JSON, cloudevents_payload(event, policy_id, event_id)
    return JSON, default_payload(event)
