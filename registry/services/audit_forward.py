"""Audit events as Harbor's extended audit log sees them: each has an event type
(``create_artifact``, ``delete_user``, …) that the configuration may disable
(``disabled_audit_log_event_types``), and each may be forwarded to a syslog receiver
(``audit_log_forward_endpoint``) and, with ``skip_audit_log_database``, kept only there.

Forwarding never holds up or fails the operation that was audited: a receiver that is down
or slow costs at most ``SEND_TIMEOUT_SECONDS`` and a warning in Berth's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import UTC, datetime
from typing import Any

from registry.services.audit import AuditEvent
from registry.services.audit_events import EVENT_TYPES, OTHER, disabled_types, parse_endpoint
from registry.services.configuration import ConfigurationCache
from registry.services.errors import ConfigurationInvalid

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 1.0
# user.info (facility 1, severity 6), as RFC 5424 numbers it.
_PRIORITY = 14


def event_type(event: AuditEvent) -> str:
    """Harbor's event type of ``event``, or ``other``."""
    name = f"{event.operation}_{event.resource_type}"
    return name if name in EVENT_TYPES else OTHER


def describe(event: AuditEvent) -> str:
    """Harbor's ``operation_description``."""
    return f"{event.operation} {event.resource_type}: {event.resource}"


def syslog_line(event: AuditEvent, when: datetime) -> bytes:
    """One RFC 5424 message whose text is the event as Harbor's extended audit log shows it."""
    record: dict[str, Any] = {
        "username": event.username,
        "resource": event.resource,
        "resource_type": event.resource_type,
        "operation": event.operation,
        "operation_description": describe(event),
        "operation_result": True,
        "event_type": event_type(event),
        "op_time": when.isoformat().replace("+00:00", "Z"),
    }
    if event.project_id is not None:
        record["project_id"] = event.project_id
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    host = socket.gethostname() or "-"
    text = json.dumps(record, separators=(",", ":"))
    return f"<{_PRIORITY}>1 {stamp} {host} berth - audit - {text}".encode()


class _DatagramSender(asyncio.DatagramProtocol):
    pass


async def _send(endpoint: str, line: bytes) -> None:
    transport, host, port = parse_endpoint(endpoint)
    if transport == "udp":
        loop = asyncio.get_running_loop()
        sent, _ = await loop.create_datagram_endpoint(_DatagramSender, remote_addr=(host, port))
        try:
            sent.sendto(line)
        finally:
            sent.close()
        return
    _, writer = await asyncio.open_connection(host, port)
    try:
        # Octet counting (RFC 6587): the receiver needs no delimiter inside the message.
        writer.write(str(len(line)).encode() + b" " + line)
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class AuditPolicy:
    """Decides, from the configuration, whether an audit event is kept in the database, and
    forwards it to the syslog receiver when one is configured."""

    def __init__(self, config: ConfigurationCache) -> None:
        self._config = config

    async def admit(self, event: AuditEvent) -> bool:
        """Whether to write ``event`` to the database (after forwarding it)."""
        config = await self._config.get()
        if event_type(event) in disabled_types(str(config["disabled_audit_log_event_types"])):
            return False
        endpoint = str(config["audit_log_forward_endpoint"])
        if not endpoint:
            return True
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await _send(endpoint, syslog_line(event, datetime.now(UTC)))
        except (OSError, TimeoutError, ConfigurationInvalid) as exc:
            log.warning("forwarding an audit event to %s failed: %s", endpoint, exc)
        return not config["skip_audit_log_database"]
