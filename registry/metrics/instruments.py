"""The counters and histograms Berth records, and one small function per thing observed.

Instruments are made on first use (see the package docstring for why not at import).
Label values are bounded: route templates, never raw paths; job kinds and statuses from
their fixed sets.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

# Seconds: from a cached manifest HEAD to a slow blob upload.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Seconds: from a webhook delivery to a long garbage collection.
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)


@dataclass(frozen=True, slots=True)
class _Instruments:
    requests: Counter
    request_seconds: Histogram
    transferred_bytes: Counter
    tokens: Counter
    jobs: Counter
    job_seconds: Histogram
    gc_freed_bytes: Counter


# The job worker runs jobs on threads: two first uses at once must make the instruments once
# (prometheus_client refuses a second set, and the job that finished would fail with it).
_making = threading.Lock()
_made: list[_Instruments] = []


def _instruments() -> _Instruments:
    if not _made:
        with _making:
            if not _made:
                _made.append(_make())
    return _made[0]


def _make() -> _Instruments:
    from prometheus_client import Counter, Histogram

    return _Instruments(
        requests=Counter(
            "berth_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
        ),
        request_seconds=Histogram(
            "berth_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status code",
            ["method", "route", "status"],
            buckets=_REQUEST_BUCKETS,
        ),
        transferred_bytes=Counter(
            "berth_registry_bytes",
            "Blob bytes received (upload) and sent (download) through /v2/",
            ["direction"],
        ),
        tokens=Counter(
            "berth_tokens",
            "Registry tokens asked for at /service/token, by outcome (issued, denied)",
            ["outcome"],
        ),
        jobs=Counter("berth_jobs", "Jobs finished, by kind and status", ["kind", "status"]),
        job_seconds=Histogram(
            "berth_job_duration_seconds",
            "Time a job ran, by kind and status",
            ["kind", "status"],
            buckets=_JOB_BUCKETS,
        ),
        gc_freed_bytes=Counter(
            "berth_gc_freed_bytes", "Bytes garbage collection removed from the blob store"
        ),
    )


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route, str(status))
    found = _instruments()
    found.requests.labels(*labels).inc()
    found.request_seconds.labels(*labels).observe(seconds)


def count_bytes(direction: str, size: int) -> None:
    """``direction``: ``upload`` or ``download``."""
    if size > 0:
        _instruments().transferred_bytes.labels(direction).inc(size)


def count_token(issued: bool) -> None:
    _instruments().tokens.labels("issued" if issued else "denied").inc()


def observe_job(kind: str, status: str, seconds: float) -> None:
    found = _instruments()
    found.jobs.labels(kind, status).inc()
    found.job_seconds.labels(kind, status).observe(seconds)


def count_gc_freed(size: int) -> None:
    if size > 0:
        _instruments().gc_freed_bytes.inc(size)


async def counted(chunks: AsyncIterable[bytes], direction: str) -> AsyncIterator[bytes]:
    """The same chunks, their bytes added to ``berth_registry_bytes`` once the stream ends
    (or is cut off): one sample per transfer, not one per chunk."""
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            yield chunk
    finally:
        count_bytes(direction, total)
