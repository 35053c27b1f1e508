"""Harbor's audit event types and the syslog endpoint setting: the vocabulary the
configuration checks and the audit forwarding uses."""

from __future__ import annotations

import functools

from registry.services.errors import ConfigurationInvalid

# Harbor's event types, in Harbor's order: what /auditlog-exts/events lists and what
# ``disabled_audit_log_event_types`` may name.
EVENT_TYPES = (
    "create_artifact",
    "delete_artifact",
    "pull_artifact",
    "create_project",
    "delete_project",
    "delete_repository",
    "login_user",
    "logout_user",
    "create_user",
    "delete_user",
    "update_user",
    "create_robot",
    "delete_robot",
    "update_configuration",
    "create_member",
    "delete_member",
    "update_member",
    "update_project",
)
# Events of Berth's other kinds (tags, labels, schedules, …), disabled together as Harbor's
# "other" type.
OTHER = "other"


@functools.lru_cache(maxsize=8)  # asked on every audited request, with one text at a time
def disabled_types(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


def check_disabled_types(text: str) -> None:
    unknown = disabled_types(text) - {*EVENT_TYPES, OTHER}
    if unknown:
        raise ConfigurationInvalid(f"unknown audit log event types: {', '.join(sorted(unknown))}")


def parse_endpoint(text: str) -> tuple[str, str, int]:
    """(transport, host, port) of ``host:port`` (TCP, as Harbor), ``tcp://host:port`` or
    ``udp://host:port``."""
    transport, _, rest = text.strip().rpartition("://")
    transport = (transport or "tcp").lower()
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if transport not in ("tcp", "udp") or not host or not (port.isascii() and port.isdigit()):
        raise ConfigurationInvalid(
            "audit_log_forward_endpoint is host:port (or tcp://host:port, udp://host:port)"
        )
    if len(port) > 5 or not 0 < int(port) < 65536:
        raise ConfigurationInvalid("audit_log_forward_endpoint names an invalid port")
    return transport, host, int(port)


def check_endpoint(text: str) -> None:
    """An empty endpoint (no forwarding) or a valid one."""
    if text:
        parse_endpoint(text)
