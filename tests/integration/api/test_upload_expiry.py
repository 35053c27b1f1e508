"""Idle upload sessions expire: refused at once, purged with their bytes."""

from __future__ import annotations

import asyncpg

from registry.services.upload import purge_expired_uploads
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import error_code

STORAGE_DRIVERS = ("filesystem", "s3")


async def _age_all_uploads(berth: Berth) -> None:
    conn = await asyncpg.connect(berth.database_url)
    try:
        await conn.execute("UPDATE upload_sessions SET updated_at = now() - interval '2 days'")
    finally:
        await conn.close()


async def test_idle_session_is_refused_and_purged(berth: Berth) -> None:
    async with berth.client() as c:
        location = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        assert (await c.patch(location, content=b"partial")).status_code == 202
        fresh = (await c.post("/v2/library/app/blobs/uploads/")).headers["Location"]
        await _age_all_uploads(berth)
        r = await c.patch(location, content=b"more")
        assert r.status_code == 404
        assert error_code(r) == "BLOB_UPLOAD_UNKNOWN"
        assert (await c.get(fresh)).status_code == 404
    upload_id = location.rsplit("/", 1)[1]
    assert await berth.stored(f"/uploads/{upload_id}") != []

    backends = berth.app.state.backends
    assert await purge_expired_uploads(backends) == 2
    assert await purge_expired_uploads(backends) == 0
    assert await berth.stored(f"/uploads/{upload_id}") == []
