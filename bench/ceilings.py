#!/usr/bin/env python3
"""The machine's raw ceilings for a registry's hot paths, to read benchmark figures against.

* sha256: what one core hashes (every push is digested, every verifying client hashes a pull);
* loopback TCP: one connection over 127.0.0.1, bytes from a buffer into a buffer, and eight
  at once (what a pull with 8 streams could reach if serving a blob cost nothing), each with
  the system's congestion control and with the senders on CUBIC, which does not pace (BBR
  paces every connection with timers, loopback ones too; Berth sends blobs to loopback
  peers unpaced);
* bare ASGI download: uvicorn (its defaults: uvloop, httptools) streaming a blob from memory
  in 1 MiB body messages, read by a raw socket client: what the server stack allows a
  download that does no I/O at all.

Standard library plus uvicorn. ``python bench/ceilings.py [--mib 1024] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

MIB = 1024 * 1024
BLOCK = MIB


def sha256_gbps(mib: int) -> float:
    block = os.urandom(BLOCK)
    sha = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(mib):
        sha.update(block)
    return mib * MIB / (time.perf_counter() - started) / 1e9


def _receive_all(sock: socket.socket, total: int) -> None:
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    received = 0
    while received < total:
        n = sock.recv_into(view)
        if n == 0:
            raise OSError("connection closed early")
        received += n


def congestion_control() -> str:
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as file:
            return file.read().strip()
    except OSError:
        return "unknown"


def loopback_tcp_gbps(mib: int, streams: int = 1, *, unpaced: bool = False) -> float:
    """``mib`` MiB over ``streams`` connections at once, each its own sender and receiver
    thread (every call moves 1 MiB, so the GIL is not what bounds them); ``unpaced``: the
    senders use CUBIC instead of the system's congestion control."""
    per_stream = max(1, mib // streams)
    with socket.create_server(("127.0.0.1", 0), backlog=streams) as server:
        port = server.getsockname()[1]
        payload = os.urandom(BLOCK)

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port)) as out:
                if unpaced:
                    out.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
                for _ in range(per_stream):
                    out.sendall(payload)

        def receive(conn: socket.socket) -> None:
            with conn:
                _receive_all(conn, per_stream * MIB)

        senders = [threading.Thread(target=send) for _ in range(streams)]
        started = time.perf_counter()
        for sender in senders:
            sender.start()
        receivers = [
            threading.Thread(target=receive, args=(server.accept()[0],)) for _ in range(streams)
        ]
        for receiver in receivers:
            receiver.start()
        for thread in (*receivers, *senders):
            thread.join()
        elapsed = time.perf_counter() - started
    return streams * per_stream * MIB / elapsed / 1e9


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_BLOB = b"\0" * BLOCK


async def _download_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """GET /<MiB> answers that many MiB of zeros, from one buffer in memory."""
    if scope["type"] != "http":
        return
    chunks = int(scope["path"].strip("/") or "1")
    length = str(chunks * BLOCK).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
    )
    for index in range(chunks):
        await send({"type": "http.response.body", "body": _BLOB, "more_body": index < chunks - 1})


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(_download_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _download(port: int, mib: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        started = time.perf_counter()
        sock.sendall(f"GET /{mib} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        _, body_start = head.split(b"\r\n\r\n", 1)
        _receive_all(sock, mib * MIB - len(body_start))
        return mib * MIB / (time.perf_counter() - started) / 1e9


def asgi_download_gbps(mib: int) -> float:
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the bare ASGI server did not start") from None
                time.sleep(0.1)
        _download(port, 16)  # warm-up
        return max(_download(port, mib) for _ in range(3))
    finally:
        server.terminate()
        server.wait(10)


def measure(mib: int) -> dict[str, Any]:
    def best(streams: int, unpaced: bool) -> float:
        return max(loopback_tcp_gbps(mib, streams, unpaced=unpaced) for _ in range(3))

    return {
        "sha256_gb_per_s": max(sha256_gbps(mib // 4) for _ in range(3)),
        "tcp_congestion_control": congestion_control(),
        "loopback_tcp_gb_per_s": best(1, False),
        "loopback_tcp_8_streams_gb_per_s": best(8, False),
        "loopback_tcp_unpaced_gb_per_s": best(1, True),
        "loopback_tcp_8_streams_unpaced_gb_per_s": best(8, True),
        "asgi_download_gb_per_s": asgi_download_gbps(mib),
    }


def render(ceilings: dict[str, Any]) -> str:
    system = ceilings["tcp_congestion_control"]
    return "\n".join(
        [
            "machine ceilings (best of 3; GB = 10^9 bytes):",
            f"  sha256, one core          {ceilings['sha256_gb_per_s']:.2f} GB/s",
            f"  loopback TCP, one stream  {ceilings['loopback_tcp_gb_per_s']:.2f} GB/s ({system}), "
            f"{ceilings['loopback_tcp_unpaced_gb_per_s']:.2f} GB/s (cubic)",
            f"  loopback TCP, 8 streams   {ceilings['loopback_tcp_8_streams_gb_per_s']:.2f} GB/s "
            f"({system}), {ceilings['loopback_tcp_8_streams_unpaced_gb_per_s']:.2f} GB/s (cubic)",
            f"  bare ASGI download        {ceilings['asgi_download_gb_per_s']:.2f} GB/s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="bytes moved per measurement")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return 0
    ceilings = measure(args.mib)
    print(render(ceilings))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(ceilings, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
