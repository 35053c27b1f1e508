"""Namespace rules and single-tag deletion of the public-registry adapters, against recorded
conversations: what must exist before a push, what each creates, how tags go alone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from registry.replication.adapter import Adapter, AdapterError, NotFound
from registry.replication.client import Credential
from registry.replication.types import adapter_for
from tests.recorded_registry import FIXTURES, recorded_registry


@asynccontextmanager
async def _recorded(name: str) -> AsyncIterator[Adapter]:
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    with recorded_registry(name) as (origin, _):
        credential = Credential(meta["username"], meta["password"])
        adapter = adapter_for(meta["type"], origin, credential, insecure=False)
        try:
            yield adapter
        finally:
            await adapter.close()


async def test_docker_hub_makes_organizations_but_not_the_accounts_namespace() -> None:
    async with _recorded("docker-hub-namespaces") as hub:
        await hub.prepare_for_push(["berthmirror/own", "berthorg/app", "berthorg/other"])
        with pytest.raises(NotFound):
            await hub.delete_tag("berthmirror/contract", "gone")
        with pytest.raises(AdapterError, match="namespace/name"):
            await hub.delete_tag("a/b/c", "v1")


async def test_quay_creates_organizations_and_deletes_single_tags_with_its_api_token() -> None:
    async with _recorded("quay-namespaces") as quay:
        await quay.prepare_for_push(["berth/contract", "neworg/app"])
        await quay.delete_tag("berth/contract", "v1")


async def test_gitlab_refuses_a_push_where_no_project_is_and_deletes_single_tags() -> None:
    async with _recorded("gitlab-namespaces") as gitlab:
        with pytest.raises(AdapterError, match="no GitLab project holds nogroup/none/app"):
            await gitlab.prepare_for_push(["nogroup/none/app"])
        await gitlab.delete_tag("berth-group/contract/app", "v1")


async def test_ghcr_lists_packages_across_pages_and_cannot_untag() -> None:
    async with _recorded("github-ghcr-packages") as ghcr:
        assert await ghcr.list_repositories() == [
            "berth-bot/contract",
            "berth-bot/tools/builder",
            "berth-bot/web",
        ]
        assert await ghcr.list_artifacts("berth-org/tools/builder") == []
        with pytest.raises(AdapterError, match="cannot remove a tag alone"):
            await ghcr.delete_tag("berth-bot/contract", "v1")
