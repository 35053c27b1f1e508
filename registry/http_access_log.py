"""uvicorn's access log line, written straight to the stream of its handler.

uvicorn logs each request through ``logging``: a record made, a lock taken, a colourizing
formatter run and the stream flushed, about a tenth of the CPU a manifest GET costs. When
``uvicorn.access`` has its default shape (one plain ``StreamHandler`` not on a terminal),
:func:`log_request` writes the same line itself and flushes it, so the log reads and arrives
as before; otherwise (other handlers, colours) it hands the record to ``logging`` as uvicorn
would.
"""

from __future__ import annotations

import http
import logging
from functools import cache
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

# What uvicorn's AccessFormatter makes of its default format, colours off.
_UVICORN_FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]
_FORMAT = 'INFO:     %s - "%s %s HTTP/%s" %s\n'
# The handler, stream and formatter last judged, and whether they were plain.
_judged: tuple[Any, Any, Any, bool] | None = None


@cache
def _status(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} "


def _plain_stream(logger: logging.Logger) -> Any | None:
    """The stream of the logger's one plain handler, or None when the record must go
    through logging (another shape of handlers or format, a filter, colours)."""
    global _judged
    handlers = logger.handlers
    if len(handlers) != 1 or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    handler = handlers[0]
    if type(handler) is not logging.StreamHandler or handler.filters:
        return None
    if handler.level > logging.INFO:
        return None
    stream, formatter = handler.stream, handler.formatter
    if _judged is None or _judged[:3] != (handler, stream, formatter):
        plain = (
            isinstance(formatter, AccessFormatter)
            and formatter._fmt == _UVICORN_FORMAT
            and not formatter.use_colors
        )
        _judged = (handler, stream, formatter, plain)
    return stream if _judged[3] else None


def log_request(logger: logging.Logger, scope: Any, status: int) -> None:
    """The access log line of a request answered with ``status``."""
    client = get_client_addr(scope)
    path = get_path_with_query_string(scope)
    stream = _plain_stream(logger)
    if stream is None:
        logger.info(
            '%s - "%s %s HTTP/%s" %d', client, scope["method"], path, scope["http_version"], status
        )
        return
    stream.write(_FORMAT % (client, scope["method"], path, scope["http_version"], _status(status)))
    stream.flush()
