"""Which event types a project's webhook policies want, remembered for a few seconds.

Every pull is a PULL_ARTIFACT event; asking PostgreSQL each time whether anyone listens would
put a query on the pull path for projects that have no webhooks at all. A policy change in
this process is seen at once; in other processes within ``ttl_seconds``.
"""

from __future__ import annotations

import time

from registry.db import webhooks
from registry.db.pool import Executor


class Subscriptions:
    def __init__(self, ttl_seconds: float = 5.0, capacity: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._types: dict[int, tuple[frozenset[str], float]] = {}
        # Counts invalidations: an answer read while one happened is used, never kept, since
        # it may predate the change that caused it.
        self._changes = 0

    async def wants(self, db: Executor, project_id: int, event_type: str) -> bool:
        found = self._types.get(project_id)
        if found is None or time.monotonic() - found[1] > self._ttl:
            if len(self._types) >= self._capacity:
                self._types.clear()
            changes = self._changes
            found = (await webhooks.subscribed_event_types(db, project_id), time.monotonic())
            if changes == self._changes:
                self._types[project_id] = found
        return event_type in found[0]

    def surely_unwanted(self, project_id: int, event_type: str) -> bool:
        """True when what this process remembers (and is not yet due to ask again) says no
        policy of the project wants ``event_type``: the caller need not start the work that
        would ask. False when it does not know."""
        found = self._types.get(project_id)
        return (
            found is not None
            and time.monotonic() - found[1] <= self._ttl
            and event_type not in found[0]
        )

    def invalidate(self, project_id: int | None = None) -> None:
        self._changes += 1
        if project_id is None:
            self._types.clear()
        else:
            self._types.pop(project_id, None)
