"""Blob sends to a peer on this host leave BBR's pacing, on real TCP sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from registry.loopback_pacing import _is_loopback, unpace_loopback


def _congestion(sock: socket.socket) -> bytes:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0")


def _local_address() -> str | None:
    """An address of this host other than loopback (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _accepted(host: str) -> Iterator[socket.socket]:
    with (
        socket.create_server((host, 0)) as server,
        socket.create_connection(server.getsockname()[:2]),
    ):
        accepted, _ = server.accept()
        with accepted:
            try:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")
            except OSError:
                pytest.skip("this kernel has no BBR, so no connection paces")
            yield accepted


@pytest.fixture
def loopback_connection() -> Iterator[socket.socket]:
    yield from _accepted("127.0.0.1")


def test_a_loopback_connection_leaves_bbr(loopback_connection: socket.socket) -> None:
    assert _congestion(loopback_connection) == b"bbr"
    unpace_loopback(loopback_connection)
    assert _congestion(loopback_connection) in {b"cubic", b"reno"}


def test_a_connection_from_another_address_keeps_bbr() -> None:
    address = _local_address()
    if address is None:
        pytest.skip("this host has no address but loopback")
    for accepted in _accepted(address):
        unpace_loopback(accepted)
        assert _congestion(accepted) == b"bbr"


def test_a_closed_socket_is_left_alone() -> None:
    sock = socket.socket()
    sock.close()
    unpace_loopback(sock)  # nothing to ask, nothing raised


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.1.2.3", False),
        ("::ffff:10.1.2.3", False),
        ("fe80::1%eth0", False),
        ("2001:db8::1", False),
    ],
)
def test_which_peers_are_on_this_host(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
