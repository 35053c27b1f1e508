"""The webhook delivery job: a thin wrapper over :func:`registry.services.webhook.deliver`."""

from __future__ import annotations

from typing import Any

from registry.jobs.context import JobContext
from registry.services.webhook import KIND, deliver

__all__ = ["KIND", "run"]


async def run(ctx: JobContext) -> dict[str, Any]:
    return await deliver(ctx.parameters, ctx.attempt, ctx.log, ctx.backends.secrets)
