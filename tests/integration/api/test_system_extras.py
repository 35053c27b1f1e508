"""Read-only mode, Harbor's configuration keys, system information, volumes, the CA
certificate and icons, driven by harborapi (and a registry client for pushes)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import asyncpg
import httpx
import pytest
from harborapi.exceptions import NotFound
from harborapi.models import Configurations

from registry.services.read_only import MESSAGE
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.harbor import harbor
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import api


async def test_read_only_refuses_changes_and_lets_reads_through(berth: Berth) -> None:
    await create_project(berth, "team")
    async with berth.client() as registry:
        digest, _ = await push_image(registry, "team/app", "v1", seed="ro")
    async with harbor(berth) as client:
        await client.update_config(Configurations(read_only=True))
        assert (await client.get_system_info()).read_only is True
    try:
        async with berth.client() as registry:
            r = await registry.post("/v2/team/app/blobs/uploads/")
            assert r.status_code == 403, r.text
            assert r.json() == {"errors": [{"code": "DENIED", "message": MESSAGE}]}
            r = await registry.delete(f"/v2/team/app/manifests/{digest}")
            assert r.status_code == 403
            # Reads go on.
            r = await registry.get(
                "/v2/team/app/manifests/v1",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
            assert r.status_code == 200
        async with api(berth) as a:
            for method, path, body in (
                ("DELETE", "/projects/team/repositories/app/artifacts/v1", None),
                ("POST", "/system/gc/schedule", {"schedule": {"type": "Manual"}}),
                ("POST", "/projects", {"project_name": "another"}),
            ):
                r = await a.request(method, path, json=body)
                assert r.status_code == 403, (path, r.text)
                assert r.json()["errors"][0]["message"] == MESSAGE
            r = await a.get("/projects/team/repositories/app/artifacts/v1")
            assert r.status_code == 200
        # People still log in to the portal (and out) to look around.
        async with httpx.AsyncClient(base_url=berth.url) as browser:
            page = await browser.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            form = {"csrf_token": token.group(1), "username": "admin", "password": ADMIN_PASSWORD}
            logged_in = await browser.post("/", data=form)
            assert logged_in.status_code == 303, logged_in.text
            assert (await browser.get("/projects")).status_code == 200
    finally:
        async with harbor(berth) as client:
            await client.update_config(Configurations(read_only=False))
    async with api(berth) as a:
        r = await a.delete("/projects/team/repositories/app/artifacts/v1")
        assert r.status_code == 200, r.text


async def test_harbors_configuration_keys_are_known_typed_and_secrets_sealed(
    berth: Berth,
) -> None:
    async with harbor(berth) as client:
        await client.update_config(
            Configurations(
                oidc_endpoint="https://id.example.test",
                oidc_client_secret="oidc-secret-value",
                storage_per_project=1024,
                banner_message="maintenance at noon",
            )
        )
        shown = await client.get_config()
        assert shown.oidc_endpoint is not None
        assert shown.oidc_endpoint.value == "https://id.example.test"
        assert shown.storage_per_project is not None
        assert shown.storage_per_project.value == 1024
        assert "oidc_client_secret" not in shown.model_dump(exclude_none=True)
        assert (await client.get_system_info()).banner_message == "maintenance at noon"
    conn = await asyncpg.connect(berth.database_url)
    try:
        stored = await conn.fetchval(
            "SELECT value::text FROM configurations WHERE key = $1", "oidc_client_secret"
        )
    finally:
        await conn.close()
    assert stored is not None
    assert "oidc-secret-value" not in stored
    async with api(berth) as a:
        for body in (
            {"no_such_key": True},
            {"storage_per_project": "lots"},
            {"storage_per_project": -5},
            {"oidc_verify_cert": "sometimes"},
            {"session_timeout": 0},
        ):
            r = await a.put("/configurations", json=body)
            assert r.status_code == 400, (body, r.text)


async def test_systeminfo_volumes_certificate_and_icons(berth: Berth, tmp_path: Path) -> None:
    await create_project(berth, "team")
    async with berth.client() as registry:
        await push_image(registry, "team/app", "v1", seed="icon")
    async with harbor(berth) as client:
        info = await client.get_system_info()
        host = berth.url.removeprefix("http://")
        assert info.registry_url == host
        assert info.external_url == berth.url
        assert info.auth_mode == "db_auth"
        assert info.harbor_version is not None
        assert info.harbor_version.startswith("v2.")
        assert "-berth." in info.harbor_version
        assert info.has_ca_root is False
        assert info.with_chartmuseum is True  # /chartrepo/{project} exists
        volumes = await client.get_system_volume_info()
        assert volumes.storage is not None
        assert volumes.storage[0].total is not None
        assert volumes.storage[0].free is not None
        assert 0 < volumes.storage[0].free <= volumes.storage[0].total
        # harborapi's file download does not look at the status; read it here.
        async with api(berth) as a:
            r = await a.get("/systeminfo/getcert")
            assert r.status_code == 404, r.text

        artifact = (await client.get_project_artifacts("team"))[0]
        assert artifact.icon is not None
        icon = await client.get_icon(artifact.icon)
        assert icon.content_type == "image/png"
        assert icon.content is not None
        assert base64.b64decode(icon.content).startswith(b"\x89PNG\r\n\x1a\n")
        with pytest.raises(NotFound):
            await client.get_icon("sha256:" + "0" * 64)

    pem = tmp_path / "ca.crt"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    settings = berth.app.state.backends.settings
    settings.ca_certificate_path = pem
    try:
        async with harbor(berth) as client:
            assert (await client.get_system_info()).has_ca_root is True
            cert = await client.get_system_certificate()
            assert cert.content == pem.read_bytes()
        async with api(berth) as a:
            r = await a.get("/systeminfo/getcert")
            assert r.status_code == 200
            assert r.headers["content-disposition"] == 'attachment; filename="ca.crt"'
    finally:
        settings.ca_certificate_path = None
