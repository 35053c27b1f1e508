"""How many SQL statements a manifest push sends (a manifest's layers and an index's children
linked in one statement each, whatever their number), and that pushes to one repository never
wait for each other on its row."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from registry.auth.principal import Principal
from registry.db import blobs, manifest_push
from registry.db.pool import Connection, open_pool
from registry.oci import mediatypes
from registry.rbac import ProjectRef
from registry.services import manifest as manifest_service
from registry.services import project as project_service
from registry.services.context import Backends

_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_CONFIG = "application/vnd.oci.image.config.v1+json"


_INTROSPECTION = (
    "WITH RECURSIVE typeinfo_tree",
    "SELECT current_setting('jit')",
    "SELECT set_config('jit'",
)


@dataclass(eq=False)
class StatementLog:
    statements: list[str] = field(default_factory=list)

    def __call__(self, record: asyncpg.connection.LoggedQuery) -> None:
        query = " ".join(record.query.split())
        # asyncpg's own look-up of a type it meets first on a connection, not Berth's.
        if not query.startswith(_INTROSPECTION):
            self.statements.append(query)


@pytest.fixture
async def counted(backends: Backends, database_url: str) -> AsyncIterator[StatementLog]:
    """The backends' pool replaced by one that logs every statement its connections send."""
    log = StatementLog()

    async def log_statements(conn: Connection) -> None:
        conn.add_query_logger(log)

    pool = await open_pool(database_url, size=2, setup=log_statements)
    original = backends.db
    backends.db = pool
    try:
        yield log
    finally:
        await backends.background.wait()
        backends.db = original
        await pool.close()


async def _project_with_blobs(
    b: Backends, admin: Principal, count: int
) -> tuple[ProjectRef, list[dict[str, object]]]:
    await project_service.create_project(b, admin, "counted", {})
    project = await project_service.find_project(b.db, "counted", by_name=True)
    assert project is not None
    descriptors = []
    for i in range(count):
        data = f"blob {i}".encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blob_id = await blobs.record_verified(b.db, digest, len(data))
        await blobs.link_to_project(b.db, project.id, blob_id)
        descriptors.append({"mediaType": _LAYER, "digest": digest, "size": len(data)})
    return project, descriptors


def _image(config: dict[str, object], layers: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {**config, "mediaType": _CONFIG},
            "layers": layers,
        }
    ).encode()


async def _push(
    b: Backends,
    log: StatementLog,
    project: ProjectRef,
    reference: str,
    content: bytes,
    media_type: str,
) -> tuple[list[str], list[str]]:
    """The statements of the push's request, and those of what it set going after answering
    (webhooks, replication triggers, scan on push)."""
    log.statements.clear()
    await manifest_service.put_manifest(
        b, project, "counted/app", reference, content, media_type, "admin"
    )
    answered = list(log.statements)
    await b.background.wait()
    return answered, log.statements[len(answered) :]


def _writes(statements: list[str]) -> list[str]:
    """The statements but the repository's update time, sent at most once a second."""
    return [s for s in statements if not s.startswith("UPDATE repositories SET updated_at")]


def _show(what: str, statements: list[str]) -> None:
    print(f"{what}: {len(statements)} statements", *(s[:160] for s in statements), sep="\n  ")


async def test_a_push_costs_two_statements_whatever_its_layer_count(
    backends: Backends, admin: Principal, counted: StatementLog
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 21)
    config = descriptors[0]
    small = _image(config, descriptors[1:3])
    await _push(backends, counted, project, "warm-up", small, mediatypes.OCI_MANIFEST)
    answered, after = await _push(
        backends, counted, project, "small", small, mediatypes.OCI_MANIFEST
    )
    _show("image push, 2 layers (request)", answered)
    _show("image push, 2 layers (after answering)", after)
    large = _image(config, descriptors[1:])
    answered_large, _ = await _push(
        backends, counted, project, "large", large, mediatypes.OCI_MANIFEST
    )
    _show("image push, 20 layers (request)", answered_large)
    # What it references and the write (the repository's update time aside: see below).
    assert len(_writes(answered)) == len(_writes(answered_large)) == 2
    # The one write stored the layers, and the tags point at what was pushed.
    linked = await backends.db.fetchval(
        "SELECT count(*) FROM artifact_blobs ab JOIN artifacts a ON a.id = ab.artifact_id "
        "WHERE a.digest = $1",
        f"sha256:{hashlib.sha256(large).hexdigest()}",
    )
    assert linked == 21
    stored = await manifest_service.get_manifest(backends, "counted/app", "small")
    assert stored.content == small
    # Moving a tag reads its immutability rules too, and still writes in one statement.
    moved, _ = await _push(backends, counted, project, "small", large, mediatypes.OCI_MANIFEST)
    _show("image push moving a tag (request)", moved)
    assert (await manifest_service.get_manifest(backends, "counted/app", "small")).content == large


async def test_an_index_push_costs_two_statements_whatever_its_child_count(
    backends: Backends, admin: Principal, counted: StatementLog
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 6)
    children = []
    for i in range(5):
        content = _image(descriptors[0], [descriptors[i + 1]])
        digest = f"sha256:{hashlib.sha256(content).hexdigest()}"
        await _push(backends, counted, project, digest, content, mediatypes.OCI_MANIFEST)
        children.append(
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": digest,
                "size": len(content),
                "platform": {"os": "linux", "architecture": f"arch{i}"},
            }
        )
    counts = []
    for tag, some in (("two", children[:2]), ("five", children)):
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": some}
        ).encode()
        answered, _ = await _push(backends, counted, project, tag, index, mediatypes.OCI_INDEX)
        _show(f"index push, {len(some)} children (request)", answered)
        counts.append(len(_writes(answered)))
    assert counts == [2, 2]
    platforms = await backends.db.fetch(
        "SELECT ar.platform FROM artifact_references ar "
        "JOIN tags t ON t.artifact_id = ar.parent_id "
        "WHERE t.name = 'five' ORDER BY ar.platform->>'architecture'"
    )
    assert [r["platform"]["architecture"] for r in platforms] == [f"arch{i}" for i in range(5)]


async def _held(database_url: str, statement: str, *args: object) -> asyncpg.Connection:
    """A connection inside a transaction that ran ``statement`` and has not ended."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("BEGIN")
    await conn.execute(statement, *args)
    return conn


_WAITING = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def _push_racing(
    other: asyncpg.Connection,
    backends: Backends,
    log: StatementLog,
    project: ProjectRef,
    tag: str,
    image: bytes,
) -> None:
    """Push while ``other``'s open transaction holds what the push needs; commit that
    transaction once the push waits for it, then let the push finish."""
    push = asyncio.create_task(_push(backends, log, project, tag, image, mediatypes.OCI_MANIFEST))
    try:
        for _ in range(1000):  # up to 10 s for the push to reach the wait
            if await other.fetchval(_WAITING):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the push never waited for the other transaction")
        await other.execute("COMMIT")
        async with asyncio.timeout(10):
            await push
    finally:
        push.cancel()
        await other.close()


async def test_a_push_does_not_wait_for_another_holding_the_repository_row(
    backends: Backends, admin: Principal, counted: StatementLog, database_url: str
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 2)
    image = _image(descriptors[0], descriptors[1:])
    await _push(backends, counted, project, "first", image, mediatypes.OCI_MANIFEST)
    # What another push bumping the update time holds until it commits.
    other = await _held(
        database_url,
        "SELECT id FROM repositories WHERE name = $1 FOR NO KEY UPDATE",
        "counted/app",
    )
    try:
        # Waiting for that commit would hang here until the timeout.
        async with asyncio.timeout(10):
            await _push(backends, counted, project, "second", image, mediatypes.OCI_MANIFEST)
    finally:
        await other.close()
    stored = await manifest_service.get_manifest(backends, "counted/app", "second")
    assert stored.content == image


async def test_pushes_racing_to_make_a_repository_land_in_the_one_made(
    backends: Backends, admin: Principal, counted: StatementLog, database_url: str
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 2)
    image = _image(descriptors[0], descriptors[1:])
    other = await _held(
        database_url,
        "INSERT INTO repositories (project_id, name) VALUES ($1, 'counted/app')",
        project.id,
    )
    # The push's insert waits on the other's uncommitted row, then finds it.
    await _push_racing(other, backends, counted, project, "raced", image)
    rows = await backends.db.fetch("SELECT id FROM repositories WHERE name = 'counted/app'")
    assert len(rows) == 1
    stored = await manifest_service.get_manifest(backends, "counted/app", "raced")
    assert stored.content == image


async def test_a_push_racing_the_deletion_of_its_repository_makes_it_anew(
    backends: Backends, admin: Principal, counted: StatementLog, database_url: str
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 2)
    image = _image(descriptors[0], descriptors[1:])
    await _push(backends, counted, project, "old", image, mediatypes.OCI_MANIFEST)
    before = await backends.db.fetchval("SELECT id FROM repositories WHERE name = 'counted/app'")
    other = await _held(database_url, "DELETE FROM repositories WHERE id = $1", before)
    # The push's foreign key check waits on the deletion, which then takes the row.
    await _push_racing(other, backends, counted, project, "new", image)
    after = await backends.db.fetchval("SELECT id FROM repositories WHERE name = 'counted/app'")
    assert after is not None
    assert after != before
    stored = await manifest_service.get_manifest(backends, "counted/app", "new")
    assert stored.content == image


async def test_a_push_marks_its_repository_updated(
    backends: Backends, admin: Principal, counted: StatementLog
) -> None:
    project, descriptors = await _project_with_blobs(backends, admin, 2)
    image = _image(descriptors[0], descriptors[1:])
    await _push(backends, counted, project, "first", image, mediatypes.OCI_MANIFEST)
    await backends.db.execute(
        "UPDATE repositories SET updated_at = now() - interval '1 hour' WHERE name = $1",
        "counted/app",
    )
    manifest_push._TOUCHED.clear()  # as in a process that has not pushed here lately
    answered, _ = await _push(backends, counted, project, "second", image, mediatypes.OCI_MANIFEST)
    assert len(answered) == 3
    age = await backends.db.fetchval(
        "SELECT now() - updated_at FROM repositories WHERE name = $1", "counted/app"
    )
    assert age.total_seconds() < 60
