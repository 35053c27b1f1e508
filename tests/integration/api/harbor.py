"""harborapi, a Harbor client with strict models, pointed at a test server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from harborapi import HarborAsyncClient

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth


@contextlib.asynccontextmanager
async def harbor(
    berth: Berth, username: str = "admin", secret: str = ADMIN_PASSWORD
) -> AsyncIterator[HarborAsyncClient]:
    """A client that validates every answer against Harbor's models and never retries, so
    an error shows as the error it is."""
    client = HarborAsyncClient(
        url=f"{berth.url}/api/v2.0", username=username, secret=secret, retry=None, timeout=30
    )
    try:
        yield client
    finally:
        await client.client.aclose()
