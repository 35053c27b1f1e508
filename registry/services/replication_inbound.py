"""Inbound registry notifications: a remote registry tells Berth what was pushed or deleted,
and the event-based pull policies whose source it is run for that resource.

Two envelopes are understood: Distribution's (``{"events": [{"action", "target": {…}}]}``,
media type ``application/vnd.docker.distribution.events.v1+json``) and Harbor's webhook
payload (``{"type": "PUSH_ARTIFACT", "event_data": {"resources", "repository"}}``). The sender
proves which registry it is with that registry's webhook secret in ``Authorization`` (as is,
or after ``Bearer``), compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from registry.db import replication as replication_db
from registry.db import replication_registries as registries_db
from registry.events import DELETE_ARTIFACT, DELETE_TAG, PUSH_ARTIFACT
from registry.oci import mediatypes
from registry.oci.digest import Digest, InvalidDigestError, looks_like_digest
from registry.oci.names import is_valid_repository, is_valid_tag
from registry.services.context import Backends
from registry.services.errors import InvalidRequest
from registry.services.replication_registry import webhook_secret_of
from registry.services.replication_trigger import start_for_resource

log = logging.getLogger(__name__)

# Distribution's actions, and Harbor's event types, as Berth's own event types.
_ACTIONS = {"push": PUSH_ARTIFACT, "delete": DELETE_ARTIFACT}
_HARBOR_TYPES = (PUSH_ARTIFACT, DELETE_ARTIFACT)


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    event_type: str
    repository: str
    digest: str
    tag: str | None


async def sender(b: Backends, authorization: str) -> asyncpg.Record | None:
    """The registry whose webhook secret the header carries, or None."""
    presented = authorization.strip()
    if presented.lower().startswith("bearer "):
        presented = presented[7:].strip()
    if not presented:
        return None
    # Compared as SHA-256 digests, so every comparison is of 32 bytes and its time tells
    # neither the secret's length nor how much of it matched.
    offered = hashlib.sha256(presented.encode()).digest()
    found = None
    for row in await registries_db.all_rows(b.db):
        secret = webhook_secret_of(b, row)
        # Every registry is compared, so the time taken says nothing of which one matched.
        expected = hashlib.sha256(secret.encode()).digest() if secret else b""
        if hmac.compare_digest(expected, offered) and secret:
            found = row
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _event(event_type: str, repository: str, digest: str, tag: str | None) -> RemoteEvent | None:
    """The event, when its names are well formed (they go into job parameters and URLs)."""
    if not is_valid_repository(repository):
        return None
    if digest or event_type != DELETE_TAG:
        if not looks_like_digest(digest):
            return None
        try:
            Digest.parse(digest)
        except InvalidDigestError:
            return None
    if tag is not None and not is_valid_tag(tag):
        return None
    return RemoteEvent(event_type, repository, digest, tag)


def _distribution_events(events: Any) -> list[RemoteEvent]:
    if not isinstance(events, list):
        raise InvalidRequest("events must be a list")
    found = []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("target"), dict):
            continue
        event_type = _ACTIONS.get(_text(event.get("action")))
        target = event["target"]
        repository, digest = _text(target.get("repository")), _text(target.get("digest"))
        media_type = _text(target.get("mediaType"))
        tag = _text(target.get("tag")) or None
        if event_type == DELETE_ARTIFACT and tag is not None:
            # A tag removed on its own (Distribution 3 reports it with the tag and no digest).
            event_type = DELETE_TAG
        if event_type is None or not repository or not (digest or event_type == DELETE_TAG):
            continue
        # Blob pushes are events too; only manifests make artifacts. A delete names only the
        # digest (and repository), so it passes without a media type.
        if event_type == PUSH_ARTIFACT and media_type not in mediatypes.MANIFESTS:
            continue
        parsed = _event(event_type, repository, digest, tag)
        if parsed is not None:
            found.append(parsed)
    return found


def _harbor_events(body: dict[str, Any]) -> list[RemoteEvent]:
    event_type = _text(body.get("type"))
    data = body.get("event_data")
    if event_type not in _HARBOR_TYPES or not isinstance(data, dict):
        return []
    repository = data.get("repository")
    name = _text(repository.get("repo_full_name")) if isinstance(repository, dict) else ""
    resources = data.get("resources")
    if not name or not isinstance(resources, list):
        return []
    found = []
    for resource in resources:
        if not isinstance(resource, dict) or not _text(resource.get("digest")):
            continue
        tag = _text(resource.get("tag"))
        digest = _text(resource["digest"])
        parsed = _event(event_type, name, digest, tag if tag and tag != digest else None)
        if parsed is not None:
            found.append(parsed)
    return found


def parse_notification(body: Any) -> list[RemoteEvent]:
    """The artifact pushes and deletes, and tag deletes, a notification body reports."""
    if not isinstance(body, dict):
        raise InvalidRequest("a notification is a JSON object")
    if "events" in body:
        return _distribution_events(body["events"])
    return _harbor_events(body)


async def handle_notification(
    b: Backends, registry: asyncpg.Record, events: list[RemoteEvent]
) -> list[int]:
    """Start the executions the events call for; their ids."""
    if not events:
        return []
    policies = [
        p
        for p in await replication_db.event_policies(b.db, local_source=False)
        if p["src_registry_id"] == registry["id"]
    ]
    started: list[int] = []
    for event in events:
        started += await start_for_resource(
            b, policies, event.event_type, event.repository, event.digest, event.tag
        )
    if started:
        log.info("notification from %s started executions %s", registry["name"], started)
    return started
