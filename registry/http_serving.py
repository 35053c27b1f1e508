"""The HTTP side of ``berth serve``: uvicorn in serve's own process and, with ``--workers N``,
N-1 more HTTP processes answering on the same listening sockets.

serve answers requests itself at any worker count, so N workers are N processes: uvicorn's
own multi-process mode would add a manager process that serves nothing and a spawned
resource tracker, each holding tens of MiB. The extra processes are ``berth http-process``
children of serve's supervisor (restarted with backoff, stopped before the services they
use), handed the sockets by descriptor, so the kernel shares out the connections.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from registry.app import create_app
from registry.config import Settings, load_settings
from registry.embedded.supervisor import BerthChild, Supervisor
from registry.http_protocol import AnnouncingServer, GuardedHttpProtocol


def _config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        # Clients hold connections open between layers; keep them longer than the default.
        timeout_keep_alive=30,
        http=GuardedHttpProtocol,
    )


def _metrics_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def serve_http(settings: Settings, supervisor: Supervisor, announce: Callable[[str], None]) -> None:
    """Listen, start the extra HTTP processes under ``supervisor``, then serve here until told
    to stop (a signal, or the supervisor giving up on a process)."""
    GuardedHttpProtocol.configure(settings)
    config = _config(settings, create_app(settings))
    sockets = [config.bind_socket()]
    listening = f"Berth listening on http://{settings.host}:{settings.port}"
    if settings.metrics.port is not None:
        # The same app on a second socket; it answers only /metrics there (MetricsPortGuard).
        sockets.append(_metrics_socket(settings.host, settings.metrics.port))
        listening += f" (metrics on port {settings.metrics.port})"
    descriptors = [sock.fileno() for sock in sockets]
    for number in range(2, settings.workers + 1):
        args = ["http-process", *(f"--fd={fd}" for fd in descriptors)]
        supervisor.adopt(
            BerthChild(f"HTTP process {number}", args, pass_fds=tuple(descriptors)).start()
        )
    if settings.workers > 1:
        listening += f" with {settings.workers} worker processes"
    server = AnnouncingServer(config, on_started=lambda: announce(listening))
    supervisor.start(on_give_up=lambda name: setattr(server, "should_exit", True))
    server.run(sockets=sockets)


def run_http_process(descriptors: list[int]) -> int:
    """``berth http-process``: one more process serving the sockets ``berth serve`` handed
    down, with the settings serve exported to the environment."""
    settings = load_settings()
    GuardedHttpProtocol.configure(settings)
    server = uvicorn.Server(_config(settings, create_app(settings)))
    server.run(sockets=[socket.socket(fileno=fd) for fd in descriptors])
    return 0
