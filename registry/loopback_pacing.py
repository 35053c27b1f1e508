"""No TCP pacing for blobs sent to a peer on this host.

BBR paces every connection: without the fq queueing discipline the kernel spaces out each
connection's packets with its own high-resolution timers. Over loopback there is no link to
pace for, so those timers are pure cost. On a 2-core VM whose default is BBR, eight 256 MiB
pulls by curl at once ran at 3.3-3.5 GB/s, and at 4.4-5.3 GB/s with CUBIC.

So a blob download to a loopback peer (a proxy on the same host, a local client or CI job)
moves its connection to a congestion control that does not pace. Connections from other
hosts keep the system's choice.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

# Congestion controls that pace (bbr, and its later versions' names), and what replaces them,
# in order of preference: both are always built into Linux and allowed to every process.
_PACING = b"bbr"
_UNPACED = (b"cubic", b"reno")
_NAME_MAX = 16  # TCP_CA_NAME_MAX


def unpace_loopback(sock: Any) -> None:
    """Switch ``sock`` (a socket or asyncio's wrapper of one) off a pacing congestion control
    if its peer is on this host. Anything refused leaves the connection as it was."""
    option = getattr(socket, "TCP_CONGESTION", None)
    if option is None:
        return
    try:
        if not _is_loopback(sock.getpeername()[0]):
            return
        current = sock.getsockopt(socket.IPPROTO_TCP, option, _NAME_MAX).rstrip(b"\0")
        if not current.startswith(_PACING):
            return
        for name in _UNPACED:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, option, name)
                return
            except OSError:
                continue
    except (OSError, ValueError, AttributeError, IndexError):
        return


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
