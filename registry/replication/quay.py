"""The ``quay`` adapter: Quay.io and self-hosted Quay.

Quay answers ``/v2/`` with Docker token auth (realm ``<host>/v2/auth``) for a user or a robot
account (``org+robot``), and has its own API under ``/api/v1`` that takes an OAuth2 access
token of an application. As in Harbor, the credential's secret may be a JSON document
``{"account_name", "docker_cli_password", "oauth2_token"}``; a plain username and password
is taken too. With the API token, tags are listed with their digests, single tags can be
deleted, and missing organizations are created before a push; without it the adapter keeps
to ``/v2/``. Quay accepts a manifest with 202.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from registry.replication.adapter import AdapterError, RegistryInfo, RemoteArtifact
from registry.replication.client import Credential
from registry.replication.distribution import DistributionAdapter
from registry.replication.web_api import WebApi

TYPE = "quay"
PAGE_LIMIT = 100
INFO = RegistryInfo(TYPE, "Quay.io or a self-hosted Quay")


def split_credential(credential: Credential) -> tuple[Credential, str]:
    """The registry login and the API token from Harbor's JSON secret (or the credential as
    it is, with no API token)."""
    try:
        document = json.loads(credential.password)
    except ValueError:
        return credential, ""
    if not isinstance(document, dict) or "account_name" not in document:
        return credential, ""
    login = Credential(
        str(document["account_name"]), str(document.get("docker_cli_password") or "")
    )
    return login, str(document.get("oauth2_token") or "")


class QuayAdapter(DistributionAdapter):
    def __init__(self, url: str, credential: Credential, *, insecure: bool = False) -> None:
        login, self._api_token = split_credential(credential)
        super().__init__(url, login, insecure=insecure)
        self._account = login.username
        headers = {"Authorization": f"Bearer {self._api_token}"} if self._api_token else {}
        self._web = WebApi(url, headers, insecure=insecure)

    def info(self) -> RegistryInfo:
        return INFO

    async def close(self) -> None:
        await self._web.close()
        await super().close()

    async def list_artifacts(self, repository: str) -> list[RemoteArtifact]:
        if not self._api_token:
            return await super().list_artifacts(repository)
        by_digest: dict[str, list[str]] = {}
        page = 1
        while True:
            response = await self._web.send(
                "GET",
                f"/api/v1/repository/{repository}/tag/",
                f"listing tags of {repository}",
                params={"onlyActiveTags": "true", "limit": PAGE_LIMIT, "page": page},
            )
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise AdapterError(f"listing tags of {repository}: {response.status_code}")
            body: dict[str, Any] = response.json()
            for tag in body.get("tags") or []:
                by_digest.setdefault(str(tag["manifest_digest"]), []).append(str(tag["name"]))
            if not body.get("has_additional"):
                return [RemoteArtifact(d, tuple(tags)) for d, tags in by_digest.items()]
            page += 1

    async def prepare_for_push(self, repositories: list[str]) -> None:
        """Organizations are made through the API (a robot can only push into existing
        ones); the account's own namespace always exists."""
        if not self._api_token:
            return
        for namespace in sorted({r.split("/", 1)[0] for r in repositories}):
            if namespace == self._account.split("+", 1)[0]:
                continue
            found = await self._web.send(
                "GET", f"/api/v1/organization/{quote(namespace, safe='')}", "finding a namespace"
            )
            if found.status_code == 200:
                continue
            await self._web.create(
                "/api/v1/organization/",
                f"creating organization {namespace}",
                {"name": namespace, "email": f"{namespace}@quay.io"},
            )

    async def delete_tag(self, repository: str, tag: str) -> None:
        if not self._api_token:
            raise AdapterError(f"deleting a tag on Quay needs an OAuth2 token ({repository}:{tag})")
        await self._web.delete(
            f"/api/v1/repository/{repository}/tag/{quote(tag, safe='')}",
            f"deleting tag {repository}:{tag}",
        )
