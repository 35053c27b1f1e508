"""Webhook bodies, field for field as Harbor sends them (the samples are Harbor's own, from its
formatter sources: a pull of library/busybox by digest by admin)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from registry.events import (
    CLOUDEVENTS_JSON,
    CLOUDEVENTS_TYPES,
    EVENT_TYPES,
    JSON,
    Event,
    Resource,
    artifact_resource,
    body_for,
    cloudevents_payload,
    default_payload,
    resource_url,
    slack_payload,
)

DIGEST = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"

HARBOR_DEFAULT: dict[str, Any] = {
    "type": "PULL_ARTIFACT",
    "occur_at": 1678082923,
    "operator": "admin",
    "event_data": {
        "resources": [
            {
                "digest": DIGEST,
                "tag": DIGEST,
                "resource_url": f"harbor.dev/library/busybox@{DIGEST}",
            }
        ],
        "repository": {
            "date_created": 1677053165,
            "name": "busybox",
            "namespace": "library",
            "repo_full_name": "library/busybox",
            "repo_type": "public",
        },
    },
}


def pulled_by_digest() -> Event:
    return Event(
        type="PULL_ARTIFACT",
        project_id=1,
        project_name="library",
        repository="library/busybox",
        operator="admin",
        resources=(artifact_resource("harbor.dev", "library/busybox", DIGEST, None),),
        occur_at=1678082923,
        public=True,
        repository_created=1677053165,
    )


def test_default_payload_is_harbors() -> None:
    payload = default_payload(pulled_by_digest())
    assert payload == HARBOR_DEFAULT
    assert isinstance(payload["occur_at"], int)
    assert isinstance(payload["event_data"]["repository"]["date_created"], int)
    # What goes on the wire is plain JSON.
    assert json.loads(json.dumps(payload)) == HARBOR_DEFAULT


def test_cloudevents_payload_is_harbors() -> None:
    payload = cloudevents_payload(pulled_by_digest(), policy_id=3)
    event_id = payload.pop("id")
    assert uuid.UUID(event_id).version == 4
    assert payload == {
        "specversion": "1.0",
        "source": "/projects/1/webhook/policies/3",
        "type": "harbor.artifact.pulled",
        "datacontenttype": "application/json",
        "time": "2023-03-06T06:08:43Z",
        "operator": "admin",
        "data": HARBOR_DEFAULT["event_data"],
    }


def test_cloudevents_id_is_kept_when_given() -> None:
    assert cloudevents_payload(pulled_by_digest(), 3, "fixed-id")["id"] == "fixed-id"


def test_every_event_type_has_a_cloudevents_type() -> None:
    assert set(CLOUDEVENTS_TYPES) == set(EVENT_TYPES)
    assert CLOUDEVENTS_TYPES["PUSH_ARTIFACT"] == "harbor.artifact.pushed"
    assert CLOUDEVENTS_TYPES["DELETE_ARTIFACT"] == "harbor.artifact.deleted"
    assert CLOUDEVENTS_TYPES["QUOTA_EXCEED"] == "harbor.quota.exceeded"
    assert CLOUDEVENTS_TYPES["QUOTA_WARNING"] == "harbor.quota.warned"
    assert CLOUDEVENTS_TYPES["TAG_RETENTION"] == "harbor.tag_retention.finished"
    assert CLOUDEVENTS_TYPES["REPLICATION"] == "harbor.replication.status.changed"
    assert CLOUDEVENTS_TYPES["SCANNING_COMPLETED"] == "harbor.scan.completed"


@pytest.mark.parametrize(
    ("tag", "expected_tag", "expected_url"),
    [
        ("latest", "latest", "registry.example:8443/library/alpine:latest"),
        (None, DIGEST, f"registry.example:8443/library/alpine@{DIGEST}"),
    ],
)
def test_pushed_resource_by_tag_and_by_digest(
    tag: str | None, expected_tag: str, expected_url: str
) -> None:
    resource = artifact_resource("registry.example:8443", "library/alpine", DIGEST, tag)
    assert resource.as_json() == {
        "digest": DIGEST,
        "tag": expected_tag,
        "resource_url": expected_url,
    }
    assert resource_url("h", "p/r", tag, DIGEST) == expected_url.replace(
        "registry.example:8443/library/alpine", "h/p/r"
    )


def test_nested_repository_name_and_private_project() -> None:
    event = Event(
        type="PUSH_ARTIFACT",
        project_id=7,
        project_name="team",
        repository="team/tools/builder",
        operator="robot$team+ci",
        resources=(artifact_resource("r.example", "team/tools/builder", DIGEST, "v1"),),
        occur_at=1700000000,
        repository_created=1690000000,
    )
    repository = default_payload(event)["event_data"]["repository"]
    assert repository == {
        "date_created": 1690000000,
        "name": "tools/builder",
        "namespace": "team",
        "repo_full_name": "team/tools/builder",
        "repo_type": "private",
    }


def test_quota_payload_has_details_and_no_resource_url() -> None:
    event = Event(
        type="QUOTA_EXCEED",
        project_id=2,
        project_name="library",
        repository="library/big",
        resources=(Resource(tag="v2", digest=DIGEST),),
        occur_at=1700000001,
        extra={"custom_attributes": {"Details": "adding 5.0 MiB … will exceed 4.0 MiB."}},
    )
    payload = default_payload(event)
    assert payload == {
        "type": "QUOTA_EXCEED",
        "occur_at": 1700000001,
        "operator": "",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": "v2"}],
            "repository": {
                "name": "big",
                "namespace": "library",
                "repo_full_name": "library/big",
                "repo_type": "private",
            },
            "custom_attributes": {"Details": "adding 5.0 MiB … will exceed 4.0 MiB."},
        },
    }


def test_retention_payload_has_no_repository() -> None:
    retention: dict[str, Any] = {
        "total": 3,
        "retained": 1,
        "harbor_hostname": "registry.example",
        "project_name": "library",
        "retention_policy_id": 4,
        "result": "SUCCESS",
        "deleted_artifact": [{"type": "image", "status": "SUCCESS", "name_tag": "alpine:old"}],
    }
    event = Event(
        type="TAG_RETENTION",
        project_id=2,
        project_name="library",
        operator="MANUAL",
        occur_at=1700000002,
        extra={"retention": retention},
    )
    assert default_payload(event) == {
        "type": "TAG_RETENTION",
        "occur_at": 1700000002,
        "operator": "MANUAL",
        "event_data": {"retention": retention},
    }
    assert cloudevents_payload(event, 9)["type"] == "harbor.tag_retention.finished"


def test_slack_payload_is_message_blocks() -> None:
    payload = slack_payload(pulled_by_digest())
    texts = [block["text"]["text"] for block in payload["blocks"]]
    assert all(block["type"] == "section" for block in payload["blocks"])
    assert texts[0] == "*Harbor webhook events*"
    assert texts[1] == "*event_type:* PULL_ARTIFACT"
    assert texts[2].startswith("*occur_at:* <!date^1678082923^{date} at {time}|")
    assert texts[3] == "*operator:* admin"
    assert json.loads(texts[5].strip("`")) == HARBOR_DEFAULT["event_data"]


@pytest.mark.parametrize(
    ("target", "content_type", "key"),
    [
        ({"type": "http", "payload_format": "Default"}, JSON, "event_data"),
        ({"type": "http", "payload_format": ""}, JSON, "event_data"),
        ({"type": "http", "payload_format": "CloudEvents"}, CLOUDEVENTS_JSON, "specversion"),
        ({"type": "slack", "payload_format": ""}, JSON, "blocks"),
    ],
)
def test_body_for_each_target(target: dict[str, str], content_type: str, key: str) -> None:
    sent_type, body = body_for(pulled_by_digest(), target, policy_id=3)
    assert sent_type == content_type
    assert key in body
