"""The access log line Berth writes itself is the line uvicorn's logging would write."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from registry.http_access_log import log_request

SCOPE: dict[str, Any] = {
    "client": ("10.1.2.3", 40112),
    "method": "GET",
    "path": "/v2/library/app/manifests/1.0 beta",
    "query_string": b"n=10&last=a",
    "http_version": "1.1",
}


def _logger(name: str, formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def _uvicorn_formatter(use_colors: bool = False) -> AccessFormatter:
    return AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=use_colors)


@pytest.mark.parametrize("status", [200, 201, 404, 503, 599])
def test_the_line_is_uvicorns(status: int) -> None:
    ours, written = _logger("berth-test.ours", _uvicorn_formatter())
    log_request(ours, SCOPE, status)
    theirs, logged = _logger("berth-test.theirs", _uvicorn_formatter())
    # What uvicorn's RequestResponseCycle.send logs for the same request.
    theirs.info(
        '%s - "%s %s HTTP/%s" %d',
        "10.1.2.3:40112",
        "GET",
        "/v2/library/app/manifests/1.0%20beta?n=10&last=a",
        "1.1",
        status,
    )
    assert written.getvalue() == logged.getvalue()
    assert written.getvalue().startswith('INFO:     10.1.2.3:40112 - "GET /v2/library/app/')


def test_other_formats_and_levels_go_through_logging() -> None:
    custom, written = _logger("berth-test.custom", logging.Formatter("%(name)s %(message)s"))
    log_request(custom, SCOPE, 200)
    assert written.getvalue().startswith('berth-test.custom 10.1.2.3:40112 - "GET ')
    coloured, in_colour = _logger("berth-test.coloured", _uvicorn_formatter(use_colors=True))
    log_request(coloured, SCOPE, 200)
    assert "\x1b[" in in_colour.getvalue()
    quiet, nothing = _logger("berth-test.quiet", _uvicorn_formatter())
    quiet.setLevel(logging.WARNING)
    log_request(quiet, SCOPE, 200)
    assert nothing.getvalue() == ""
