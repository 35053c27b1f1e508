"""Harbor's extended audit log: /auditlog-exts and its event types, event types switched off
in the configuration, and forwarding to syslog receivers (UDP and TCP) this test runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from harborapi.models import AuditLog, Configurations

from registry.services.audit_events import EVENT_TYPES
from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.harbor import harbor
from tests.integration.api.test_identity import api, make_user


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[bytes]) -> None:
        self.inbox = inbox

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.inbox.put_nowait(data)


@pytest.fixture
async def udp_receiver() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Datagrams(inbox), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        yield port, inbox
    finally:
        transport.close()


@pytest.fixture
async def tcp_receiver() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    """A syslog receiver reading octet-counted frames (RFC 6587)."""
    inbox: asyncio.Queue[bytes] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = await reader.readuntil(b" ")
                inbox.put_nowait(await reader.readexactly(int(length)))
        except (asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, inbox
    finally:
        server.close()
        await server.wait_closed()


def _message(raw: bytes) -> dict[str, Any]:
    """The JSON record of an RFC 5424 line ``<PRI>1 TIME HOST berth - audit - {…}``."""
    text = raw.decode()
    assert text.startswith("<14>1 "), text
    header, _, body = text.partition(" audit - ")
    assert header.split(" ")[3] == "berth", text
    record: dict[str, Any] = json.loads(body)
    return record


async def _logs(berth: Berth, q: str) -> list[dict[str, Any]]:
    async with harbor(berth) as client:
        raw: Any = await client.get("/auditlog-exts", params={"q": q})
    assert isinstance(raw, list)
    # harborapi knows Harbor's audit log model; the extended one adds to it.
    for item in raw:
        AuditLog.model_validate(item)
    return raw


async def test_extended_log_and_its_event_types(berth: Berth) -> None:
    await create_project(berth, "team")
    logs = await _logs(berth, q="resource_type=project")
    assert [(e["operation"], e["resource"]) for e in logs] == [("create", "team")]
    entry = logs[0]
    assert entry["operation_description"] == "create project: team"
    assert entry["operation_result"] is True
    assert entry["username"] == "admin"
    async with harbor(berth) as client:
        types: Any = await client.get("/auditlog-exts/events")
    assert [t["event_type"] for t in types] == list(EVENT_TYPES)


async def test_a_disabled_event_type_is_not_recorded(berth: Berth) -> None:
    # Newer than the Harbor models harborapi has: sent as plain JSON.
    async with api(berth) as a:
        r = await a.put(
            "/configurations", json={"disabled_audit_log_event_types": "create_project"}
        )
        assert r.status_code == 200, r.text
    await create_project(berth, "quiet")
    await make_user(berth, "dev")
    assert await _logs(berth, q="resource_type=project") == []
    assert [e["resource"] for e in await _logs(berth, q="resource_type=user")] == ["dev"]
    async with api(berth) as a:
        r = await a.put("/configurations", json={"disabled_audit_log_event_types": "sneeze"})
        assert r.status_code == 400, r.text
        r = await a.put("/configurations", json={"audit_log_forward_endpoint": "nowhere"})
        assert r.status_code == 400, r.text


async def test_events_are_forwarded_to_syslog_over_udp_and_tcp(
    berth: Berth,
    udp_receiver: tuple[int, asyncio.Queue[bytes]],
    tcp_receiver: tuple[int, asyncio.Queue[bytes]],
) -> None:
    udp_port, udp_inbox = udp_receiver
    async with harbor(berth) as client:
        await client.update_config(
            Configurations(audit_log_forward_endpoint=f"udp://127.0.0.1:{udp_port}")
        )
    await create_project(berth, "loud")
    # The configuration change itself comes first.
    first = _message(await asyncio.wait_for(udp_inbox.get(), 5))
    assert first["event_type"] == "update_configuration"
    record = _message(await asyncio.wait_for(udp_inbox.get(), 5))
    assert record["event_type"] == "create_project"
    assert record["resource"] == "loud"
    assert record["username"] == "admin"

    # Harbor's form, host:port, is TCP; with skip_audit_log_database the receiver alone
    # keeps the record.
    tcp_port, tcp_inbox = tcp_receiver
    async with harbor(berth) as client:
        await client.update_config(
            Configurations(
                audit_log_forward_endpoint=f"127.0.0.1:{tcp_port}", skip_audit_log_database=True
            )
        )
    await make_user(berth, "dev")
    received = [_message(await asyncio.wait_for(tcp_inbox.get(), 5))]
    while not any(r["event_type"] == "create_user" for r in received):
        received.append(_message(await asyncio.wait_for(tcp_inbox.get(), 5)))
    assert await _logs(berth, q="resource_type=user") == []
    assert [e["resource"] for e in await _logs(berth, q="resource_type=project")] == ["loud"]


async def test_a_receiver_that_is_down_costs_the_operation_nothing(berth: Berth) -> None:
    async with harbor(berth) as client:
        # A closed port: connections are refused at once.
        await client.update_config(Configurations(audit_log_forward_endpoint="127.0.0.1:9"))
    await create_project(berth, "still")
    assert [e["resource"] for e in await _logs(berth, q="resource_type=project")] == ["still"]
