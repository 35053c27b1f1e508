"""Reading inbound notifications: Distribution's envelope and Harbor's webhook payload."""

from __future__ import annotations

import pytest

from registry.events import DELETE_ARTIFACT, DELETE_TAG, PUSH_ARTIFACT
from registry.services.errors import InvalidRequest
from registry.services.replication_inbound import RemoteEvent, parse_notification

DIGEST = "sha256:" + "12" * 32
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def test_distribution_envelope_keeps_manifest_pushes_and_deletes() -> None:
    body = {
        "events": [
            {
                "action": "push",
                "target": {
                    "mediaType": MANIFEST,
                    "digest": DIGEST,
                    "repository": "team/web",
                    "tag": "v1",
                },
            },
            # A layer push, a pull and a malformed name: none is an artifact event.
            {
                "action": "push",
                "target": {
                    "mediaType": "application/octet-stream",
                    "digest": DIGEST,
                    "repository": "team/web",
                },
            },
            {
                "action": "pull",
                "target": {"mediaType": MANIFEST, "digest": DIGEST, "repository": "team/web"},
            },
            {
                "action": "push",
                "target": {"mediaType": MANIFEST, "digest": DIGEST, "repository": "Team/../web"},
            },
            {"action": "delete", "target": {"digest": DIGEST, "repository": "team/web"}},
        ]
    }
    assert parse_notification(body) == [
        RemoteEvent(PUSH_ARTIFACT, "team/web", DIGEST, "v1"),
        RemoteEvent(DELETE_ARTIFACT, "team/web", DIGEST, None),
    ]


def test_harbor_webhook_payload() -> None:
    body = {
        "type": "PUSH_ARTIFACT",
        "operator": "admin",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": "1.0", "resource_url": "h/lib/app:1.0"}],
            "repository": {"name": "app", "namespace": "lib", "repo_full_name": "lib/app"},
        },
    }
    assert parse_notification(body) == [RemoteEvent(PUSH_ARTIFACT, "lib/app", DIGEST, "1.0")]
    assert parse_notification({**body, "type": "PULL_ARTIFACT"}) == []


def test_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_notification([1, 2])
    with pytest.raises(InvalidRequest):
        parse_notification({"events": "no"})


def test_a_tag_delete_is_a_tag_event_with_or_without_its_digest() -> None:
    body = {
        "events": [
            {
                "action": "delete",
                "target": {"digest": DIGEST, "repository": "team/web", "tag": "v1"},
            },
            {"action": "delete", "target": {"repository": "team/web", "tag": "v2"}},
            # Neither tag nor digest: a repository delete, not an artifact's.
            {"action": "delete", "target": {"repository": "team/web"}},
            {"action": "delete", "target": {"repository": "team/web", "tag": "bad tag"}},
        ]
    }
    assert parse_notification(body) == [
        RemoteEvent(DELETE_TAG, "team/web", DIGEST, "v1"),
        RemoteEvent(DELETE_TAG, "team/web", "", "v2"),
    ]
