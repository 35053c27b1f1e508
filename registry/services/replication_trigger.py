"""Starting replication executions: by hand, on a schedule, and on events (a local push or
delete for push policies; an inbound notification from a remote registry for pull ones).

Kept apart from the copying code so the event path (``notify``, called by every push) needs
nothing of the adapters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from registry.db import jobs as jobs_db
from registry.db import replication as replication_db
from registry.events import CREATE_TAG, DELETE_ARTIFACT, DELETE_TAG, PUSH_ARTIFACT
from registry.replication.copy import is_accessory_tag
from registry.services import jobs as job_service
from registry.services import read_cache
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, JobServiceUnavailable
from registry.services.immutability import PatternInvalid
from registry.services.replication_policy import EXECUTION_KIND, Selection, get_policy

log = logging.getLogger(__name__)

# Job triggers as the job service records them, and as Harbor's API shows them.
TRIGGER_NAMES = {"MANUAL": "manual", "SCHEDULE": "scheduled", "EVENT": "event_based"}
JOB_TRIGGERS = {v: k for k, v in TRIGGER_NAMES.items()}
# A tag made on an existing artifact replicates like a push of it (its tags go along).
_LOCAL_EVENTS = (PUSH_ARTIFACT, DELETE_ARTIFACT, CREATE_TAG, DELETE_TAG)


async def start_execution(
    b: Backends,
    policy_id: int,
    trigger: str = "manual",
    only: dict[str, Any] | None = None,
) -> int:
    """Record an execution and send its listing job; ``only`` narrows it to one event's
    resource (``repository``, ``digest``, ``tags``, ``deleted``)."""
    policy = await get_policy(b, policy_id)
    if trigger == "manual" and not policy["enabled"]:
        raise InvalidRequest(f"replication policy {policy['name']} is disabled")
    if policy["single_active_replication"] and await replication_db.active_execution_exists(
        b.db, policy_id
    ):
        raise InvalidRequest(f"replication policy {policy['name']} is already running")
    async with b.db.acquire() as conn, conn.transaction():
        execution_id = await replication_db.create_execution(conn, policy_id, trigger)
        parameters = {"policy_id": policy_id, "execution_id": execution_id, "only": only}
        job_id = await jobs_db.create(conn, EXECUTION_KIND, parameters, JOB_TRIGGERS[trigger])
        await replication_db.set_execution_job(conn, execution_id, job_id)
    try:
        await job_service.dispatch(b, job_id)
    except JobServiceUnavailable:
        if trigger == "manual":
            raise
        # Recorded: the scheduler sends it once the broker is back.
    return execution_id


def _selects(policy: asyncpg.Record, repository: str, tag: str | None) -> bool:
    selection = Selection.of(policy)
    try:
        if not selection.repository(repository):
            return False
        return tag is None or bool(selection.tags((tag,)))
    except PatternInvalid:
        return False


def _subject_of_accessory(tag: str) -> str:
    """``sha256-<hex>.sig`` -> ``sha256:<hex>``."""
    return tag.split(".", 1)[0].replace("-", ":", 1)


async def start_for_resource(
    b: Backends,
    policies: Sequence[asyncpg.Record],
    event_type: str,
    repository: str,
    digest: str,
    tag: str | None,
) -> list[int]:
    """Start the executions the event calls for among ``policies`` (event-based ones)."""
    started = []
    only: dict[str, Any]
    if event_type == DELETE_ARTIFACT:
        only = {"repository": repository, "digest": digest, "tags": [], "deleted": True}
        wanted = [p for p in policies if p["replicate_deletion"] and _selects(p, repository, None)]
    elif event_type == DELETE_TAG and tag is not None:
        # The artifact stays, here and at the destination: only the tag goes there too.
        only = {"repository": repository, "digest": digest, "tags": [tag], "deleted": True}
        wanted = [p for p in policies if p["replicate_deletion"] and _selects(p, repository, tag)]
    elif tag is not None and is_accessory_tag(tag):
        # A signature pushed after its image: replicate the image again, its accessories go
        # with it (what is already there is skipped).
        only = {"repository": repository, "digest": _subject_of_accessory(tag)}
        wanted = [p for p in policies if _selects(p, repository, None)]
    else:
        only = {"repository": repository, "digest": digest}
        wanted = [p for p in policies if _selects(p, repository, tag)]
    for policy in wanted:
        try:
            started.append(await start_execution(b, policy["id"], "event_based", only))
        except InvalidRequest as exc:
            log.info("event replication of %s skipped: %s", repository, exc.message)
    return started


def follows(event_type: str) -> bool:
    """Whether event-based push replication acts on this kind of event at all."""
    return event_type in _LOCAL_EVENTS


async def on_local_event(
    b: Backends,
    event_type: str,
    repository: str,
    digest: str,
    tag: str | None,
    facts: read_cache.ProjectFacts | None = None,
) -> None:
    """A push, delete, or tag made or removed in this registry: run the event-based push
    policies it matches (as ``facts``, when given, remember them). Never raises (it runs
    beside the request that caused the event)."""
    if event_type not in _LOCAL_EVENTS:
        return
    try:
        policies = await _push_policies(b, facts)
        if policies:
            await start_for_resource(b, policies, event_type, repository, digest, tag)
    except Exception:
        log.exception("starting event-based replication for %s failed", repository)


async def _push_policies(
    b: Backends, facts: read_cache.ProjectFacts | None
) -> Sequence[asyncpg.Record]:
    if facts is not None and facts.push_policies is not None:
        return facts.push_policies
    policies = tuple(await replication_db.event_policies(b.db, local_source=True))
    if facts is not None and facts.live:
        facts.push_policies = policies
    return policies
