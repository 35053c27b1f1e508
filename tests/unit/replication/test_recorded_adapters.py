"""The adapters of registries that cannot be reached from here (Docker Hub, Quay, GHCR,
GitLab) pass the adapter contract against their recorded conversations."""

from __future__ import annotations

import hashlib
import json

import pytest

from registry.replication.adapter import Unreachable
from registry.replication.client import Credential
from registry.replication.types import adapter_for
from tests.recorded_registry import FIXTURES, recorded_registry
from tests.replication_contract import (
    ContractImage,
    check_adapter_contract,
    check_refuses_wrong_credentials,
)

RECORDED = ("docker-hub", "quay", "github-ghcr", "gitlab")


def _image() -> ContractImage:
    folder = FIXTURES / "image"
    config = (folder / "config.json").read_bytes()
    layer = (folder / "layer.tar.gz").read_bytes()
    manifest = (folder / "manifest.json").read_bytes()

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    return ContractImage(
        {digest(config): config, digest(layer): layer}, manifest, digest(manifest), digest(layer)
    )


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_registry_passes_the_adapter_contract(name: str) -> None:
    meta = json.loads((FIXTURES / f"{name}.json").read_text())
    wrong = meta.get("wrong", {"username": meta["username"], "password": "wrong"})
    with recorded_registry(name) as (origin, _):
        credential = Credential(meta["username"], meta["password"])
        adapter = adapter_for(meta["type"], origin, credential, insecure=False)
        try:
            await check_adapter_contract(
                adapter, meta["repository"], _image(), deletes_by_digest=meta["deletes_by_digest"]
            )
        finally:
            await adapter.close()
        refused = adapter_for(
            meta["type"], origin, Credential(wrong["username"], wrong["password"]), insecure=False
        )
        try:
            await check_refuses_wrong_credentials(refused)
        finally:
            await refused.close()


async def test_a_request_the_recording_does_not_hold_is_refused_and_reported() -> None:
    with recorded_registry("docker-hub") as (origin, conversation):
        adapter = adapter_for("docker-hub", origin, Credential("x", "y"), insecure=False)
        try:
            with pytest.raises(Unreachable, match="599"):
                await adapter.list_repositories()
        finally:
            await adapter.close()
        assert conversation.mismatches == ["exchange 0: expected GET /v2/, got POST /v2/auth/token"]
        # Leave the conversation as followed, so the server's own check stays quiet.
        conversation.mismatches.clear()
        conversation.position = len(conversation.exchanges)
