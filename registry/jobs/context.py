"""What a job's code sees while it runs: its parameters, its log, and whether to stop."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.db import jobs
from registry.services.context import Backends


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


# What runs a job of one kind: its context in, an optional result (shown by the API) out.
Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]
