"""What a job's code sees while it runs: its parameters, its log, and whether to stop."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry.db import jobs

if TYPE_CHECKING:
    from registry.services.context import Backends


class RetryLater(Exception):
    """Raised by a job to be run again after ``delay`` seconds (counts as an attempt)."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass
class JobContext:
    backends: Backends
    job_id: int
    kind: str
    parameters: dict[str, Any]
    attempt: int = 1
    trigger: str = "MANUAL"
    _stop_checked_at: float = field(default=0.0)
    _stopping: bool = field(default=False)

    async def log(self, message: str, level: str = "INFO") -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await jobs.append_log(self.backends.db, self.job_id, f"{stamp} [{level}] {message}\n")

    async def should_stop(self) -> bool:
        """True once someone asked the job to stop; asks the database at most once a second."""
        if not self._stopping and time.monotonic() - self._stop_checked_at > 1.0:
            self._stopping = await jobs.stop_requested(self.backends.db, self.job_id)
            self._stop_checked_at = time.monotonic()
        return self._stopping
