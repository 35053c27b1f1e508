"""uvicorn's HTTP protocol with read deadlines, so slow clients cannot hold connections forever.

uvicorn bounds idle keep-alive connections but not a client that trickles its request: a
header sent a byte at a time, or a body that stops half-way, keeps its connection (and for a
body, the request's task) alive for as long as the client likes. Three bounds close that:

* the request head (line and headers) must arrive within ``header_timeout`` of its first byte
  (or of the connection, for the first request);
* while the app waits for more of a body, the client must send something at least every
  ``body_idle_timeout`` seconds: a slow multi-GiB upload that keeps sending goes on for as long
  as it takes, one that stalls is cut off (the upload stays resumable);
* at most ``max_pending`` connections may be waiting for their request head at once per
  process; past that, the one that has waited longest is closed, so a crowd of slow clients
  cannot lock everyone else out.

It also keeps an HTTP/1.0 connection alive when the client sends ``Connection: keep-alive``
(uvicorn closes every HTTP/1.0 connection): load balancers' health checks and tools such as
``ab`` speak HTTP/1.0 and would otherwise open a connection per request.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from registry.config import Settings
from registry.http_zerocopy import ZeroCopyCycle, advertise

log = logging.getLogger(__name__)


class GuardedHttpProtocol(HttpToolsProtocol):
    header_timeout: ClassVar[float] = 15.0
    body_idle_timeout: ClassVar[float] = 60.0
    max_pending: ClassVar[int] = 512
    # Connections waiting for their request head, oldest first (one event loop per process).
    _waiting: ClassVar[OrderedDict[GuardedHttpProtocol, None]] = OrderedDict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._last_data = 0.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.header_timeout = settings.header_timeout_seconds
        cls.body_idle_timeout = settings.body_idle_timeout_seconds
        cls.max_pending = settings.max_pending_connections
        ZeroCopyCycle.send_mode = settings.blob_send

    # -- the request head ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # a later request on a kept-alive connection
            self._await_head()

    def on_headers_complete(self) -> None:
        self._stop_waiting_for_head()
        self._reading_body = True
        self._last_data = self.loop.time()
        self._body_timer = self.loop.call_later(self.body_idle_timeout, self._check_body)
        super().on_headers_complete()
        self._offer_zerocopy()

    def _offer_zerocopy(self) -> None:
        # The cycle made for this request has not run yet (its task starts on the next loop
        # turn, a pipelined one later still), so it can still learn the zero-copy send.
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope and type(cycle) is RequestResponseCycle:
            cycle.__class__ = ZeroCopyCycle
            advertise(self.scope)  # type: ignore[arg-type]
            if self.scope["http_version"] == "1.0" and self.parser.should_keep_alive():
                cycle.keep_alive = True
                cast(ZeroCopyCycle, cycle).announce_keep_alive = True

    def _await_head(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._cut, "request head")
        waiting = type(self)._waiting
        waiting[self] = None
        while len(waiting) > self.max_pending:
            oldest = next(iter(waiting))
            oldest._cut("request head, with too many clients waiting")

    def _stop_waiting_for_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        type(self)._waiting.pop(self, None)

    # -- the body --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading_body:
            self._last_data = self.loop.time()
        super().data_received(data)

    def on_message_complete(self) -> None:
        self._stop_reading_body()
        super().on_message_complete()

    def _check_body(self) -> None:
        self._body_timer = None
        if not self._reading_body or self.transport.is_closing():
            return
        idle = self.loop.time() - self._last_data
        # Paused reading means the app is slow to take the body, not the client to send it.
        if idle >= self.body_idle_timeout and not self.flow.read_paused:
            self._cut("request body")
            return
        wait = self.body_idle_timeout - idle if idle < self.body_idle_timeout else 1.0
        self._body_timer = self.loop.call_later(wait, self._check_body)

    def _stop_reading_body(self) -> None:
        self._reading_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    # -- closing ---------------------------------------------------------------------------

    def _cut(self, waiting_for: str) -> None:
        self._stop_waiting_for_head()
        self._stop_reading_body()
        if not self.transport.is_closing():
            log.info(
                "closing a connection from %s: too slow sending its %s", self.client, waiting_for
            )
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting_for_head()
        self._stop_reading_body()
        super().connection_lost(exc)


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server that says it listens only once it does (socket bound, app started)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()
