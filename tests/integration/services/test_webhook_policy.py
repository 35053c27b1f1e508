"""Webhook policies through registry.services.webhook_policy."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import pytest

from registry.auth.principal import Principal
from registry.db.pool import open_pool
from registry.query import ListQuery, Match, Term
from registry.services import project as project_service
from registry.services import webhook_policy
from registry.services.context import Backends
from registry.services.errors import InvalidRequest, PolicyUnknown, ResourceExists
from registry.services.project import find_by_id
from registry.services.webhook_subscriptions import Subscriptions
from tests.integration.relay import Relay
from tests.integration.services.conftest import audit_lines


def _policy(name: str) -> dict[str, object]:
    return {
        "name": name,
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [
            {
                "type": "http",
                "address": "http://hooks.example.com/in",
                "auth_header": "Bearer s3cret",
            }
        ],
    }


async def test_policies_keep_their_auth_header_sealed(backends: Backends, admin: Principal) -> None:
    project = await find_by_id(
        backends.db, await project_service.create_project(backends, admin, "hooks", {})
    )
    assert project is not None
    policy_id = await webhook_policy.create_policy(backends, admin, project, _policy("first"))
    other_id = await webhook_policy.create_policy(backends, admin, project, _policy("other"))
    with pytest.raises(ResourceExists):
        await webhook_policy.create_policy(backends, admin, project, _policy("first"))
    with pytest.raises(InvalidRequest):
        await webhook_policy.create_policy(backends, admin, project, {"name": "x"})
    row = await webhook_policy.get_policy(backends, project, policy_id)
    assert "s3cret" not in str(row["targets"])
    rows, total = await webhook_policy.list_policies(
        backends, project, ListQuery({"name": Term(Match.CONTAINS, ("oth",))})
    )
    assert (total, rows[0]["name"]) == (1, "other")
    assert await webhook_policy.list_deliveries(backends, row, ListQuery()) == ([], 0)
    other = await webhook_policy.get_policy(backends, project, other_id)
    await webhook_policy.delete_policy(backends, admin, project, other)
    with pytest.raises(PolicyUnknown):  # deleted while the caller held it
        await webhook_policy.update_policy(backends, admin, project, other, _policy("late"))
    await webhook_policy.update_policy(backends, admin, project, row, _policy("renamed"))
    await webhook_policy.delete_policy(
        backends, admin, project, await webhook_policy.get_policy(backends, project, policy_id)
    )
    assert [line[0] for line in await audit_lines(backends) if line[1] == "webhook_policy"] == [
        "create",
        "create",
        "delete",
        "update",
        "delete",
    ]


async def test_a_pull_starts_no_notification_once_no_policy_is_known_to_want_it(
    backends: Backends, admin: Principal
) -> None:
    project = await find_by_id(
        backends.db, await project_service.create_project(backends, admin, "quiet", {})
    )
    assert project is not None
    subscriptions = backends.webhook_subscriptions
    # Not asked yet: unknown, so the work that asks must start.
    assert not subscriptions.surely_unwanted(project.id, "PULL_ARTIFACT")
    assert not await subscriptions.wants(backends.db, project.id, "PULL_ARTIFACT")
    assert subscriptions.surely_unwanted(project.id, "PULL_ARTIFACT")

    await webhook_policy.create_policy(
        backends, admin, project, {**_policy("pulls"), "event_types": ["PULL_ARTIFACT"]}
    )
    # The policy made here is known at once: pulls start their notification again.
    assert not subscriptions.surely_unwanted(project.id, "PULL_ARTIFACT")
    assert await subscriptions.wants(backends.db, project.id, "PULL_ARTIFACT")
    assert not subscriptions.surely_unwanted(project.id, "PULL_ARTIFACT")
    assert subscriptions.surely_unwanted(project.id, "DELETE_ARTIFACT")


async def test_an_answer_read_before_a_policy_change_is_not_kept(
    backends: Backends, admin: Principal, database_url: str
) -> None:
    project = await find_by_id(
        backends.db, await project_service.create_project(backends, admin, "late", {})
    )
    assert project is not None
    parts = urlsplit(database_url)
    assert parts.hostname is not None
    assert parts.port is not None
    relay = Relay((parts.hostname, parts.port))
    server = await asyncio.start_server(relay._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    auth = parts.netloc.rpartition("@")[0]
    pool = await open_pool(urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}")), 1)
    subscriptions = Subscriptions()
    try:
        # Connected, and the statement prepared, while answers flow: what is held below is the
        # query's result itself.
        await subscriptions.wants(pool, project.id, "PULL_ARTIFACT")
        subscriptions.invalidate(project.id)
        relay.answers.clear()
        reading = asyncio.create_task(subscriptions.wants(pool, project.id, "PULL_ARTIFACT"))
        await relay.held.wait()  # PostgreSQL answered "no policy"; the answer is held
        await webhook_policy.create_policy(
            backends, admin, project, {**_policy("pulls"), "event_types": ["PULL_ARTIFACT"]}
        )
        subscriptions.invalidate(project.id)  # what the change does in its own process
        relay.answers.set()
        assert not await reading  # the answer it read, used once
        assert not subscriptions.surely_unwanted(project.id, "PULL_ARTIFACT")
        assert await subscriptions.wants(pool, project.id, "PULL_ARTIFACT")
    finally:
        await pool.close()
        server.close()
        await relay.close()
        await server.wait_closed()
