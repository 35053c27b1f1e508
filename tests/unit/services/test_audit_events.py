"""The audit forwarding endpoint setting and Harbor's event types."""

from __future__ import annotations

import pytest

from registry.services.audit import AuditEvent
from registry.services.audit_events import check_disabled_types, check_endpoint, parse_endpoint
from registry.services.audit_forward import event_type
from registry.services.errors import ConfigurationInvalid


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("syslog.example.test:514", ("tcp", "syslog.example.test", 514)),
        ("tcp://127.0.0.1:601", ("tcp", "127.0.0.1", 601)),
        ("udp://[::1]:514", ("udp", "::1", 514)),
    ],
)
def test_endpoints_parse(text: str, parsed: tuple[str, str, int]) -> None:
    assert parse_endpoint(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "nowhere",
        ":514",
        "host:",
        "host:0",
        "host:65536",
        "http://host:80",
        "host:\uff15\uff11\uff14",
    ],
)
def test_bad_endpoints_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationInvalid):
        check_endpoint(text)


def test_no_endpoint_means_no_forwarding() -> None:
    check_endpoint("")


def test_event_types() -> None:
    assert event_type(AuditEvent("create", "artifact", "p/r@sha256:x", "u")) == "create_artifact"
    assert event_type(AuditEvent("create", "tag", "p/r:v1", "u")) == "other"
    check_disabled_types("create_project, pull_artifact,other")
    with pytest.raises(ConfigurationInvalid):
        check_disabled_types("create_project,sneeze")
