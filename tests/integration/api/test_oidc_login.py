"""OpenID Connect sign-in against a real provider (Authlib, a separate process with its own
keys and discovery document): the authorization-code flow with PKCE at /c/oidc/login and
/c/oidc/callback opening a session, onboarding with the admin group, refused replays and
foreign callbacks, and the CLI secret that skopeo and harborapi log in with."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from harborapi.exceptions import Unauthorized

from tests.e2e._browser import DESKTOP, artifacts_dir, chromium
from tests.e2e._oci import OCI_MANIFEST, build_image, write_layout
from tests.e2e._tools import Toolbox
from tests.integration.api.conftest import Berth, create_project
from tests.integration.api.harbor import harbor
from tests.integration.api.test_identity import api

CLIENT_ID = "berth-portal"
CLIENT_SECRET = "provider-client-secret"
CLI_SECRET = "CliSecret2go"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def provider(berth: Berth, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path / "provider.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.oidc_provider",
                "--port",
                str(port),
                "--client-id",
                CLIENT_ID,
                "--secret",
                CLIENT_SECRET,
                "--redirect-uri",
                f"{berth.url}/c/oidc/callback",
                "--user",
                "alice",
                "--email",
                "alice@example.test",
                "--groups",
                "registry-admins,dev",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the OpenID provider did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def oidc_mode(berth: Berth, provider: str) -> AsyncIterator[None]:
    async with api(berth) as a:
        r = await a.put(
            "/configurations",
            json={
                "auth_mode": "oidc_auth",
                "oidc_name": "test-provider",
                "oidc_endpoint": provider,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "oidc_scope": "openid,email,groups",
                "oidc_groups_claim": "groups",
                "oidc_admin_group": "registry-admins",
                "oidc_auto_onboard": True,
                "oidc_verify_cert": False,
            },
        )
        assert r.status_code == 200, r.text
    yield
    async with api(berth) as a:
        await a.put("/configurations", json={"auth_mode": "db_auth"})


async def _sign_in(browser: httpx.AsyncClient) -> httpx.Response:
    """Follow the flow as a browser does; the provider's answer to the callback."""
    start = await browser.get("/c/oidc/login")
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID]
    approved = await browser.get(authorize)
    assert approved.status_code == 302, approved.text
    return approved


async def test_browser_sign_in_opens_a_session(berth: Berth, oidc_mode: None) -> None:
    async with httpx.AsyncClient(base_url=berth.url, timeout=30) as browser:
        approved = await _sign_in(browser)
        callback = approved.headers["location"]
        assert callback.startswith(f"{berth.url}/c/oidc/callback?")
        done = await browser.get(callback)
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/"
        me = await browser.get("/api/v2.0/users/current")
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "alice"
        assert me.json()["email"] == "alice@example.test"
        # In the provider's admin group: a system administrator.
        assert me.json()["sysadmin_flag"] is True
        # A code is good once.
        replay = await browser.get(callback)
        assert replay.status_code == 403, replay.text
    async with api(berth) as a:
        info = (await a.get("/systeminfo")).json()
        assert info["auth_mode"] == "oidc_auth"
        assert info["oidc_provider_name"] == "test-provider"


async def test_the_portal_signs_in_through_the_provider(
    berth: Berth, oidc_mode: None, tmp_path: Path
) -> None:
    """In a real browser: the login page offers the provider, which signs the person in and
    sends them back to the page they asked for, logged in as themselves."""

    def journey() -> tuple[str, str, str]:
        with chromium() as browser:
            page = browser.new_page(viewport=DESKTOP)
            page.goto(f"{berth.url}/")
            # The form stays for local accounts such as the administrator.
            assert page.get_by_label("Username").is_visible()
            page.get_by_role("link", name="Log in with test-provider").click()
            page.wait_for_url(f"{berth.url}/projects")
            page.screenshot(path=str(artifacts_dir(tmp_path) / "oidc-signed-in.png"))
            return page.url, page.locator(".user").inner_text(), page.content()

    url, user, content = await asyncio.to_thread(journey)
    assert url == f"{berth.url}/projects"
    assert user.split()[0] == "alice"
    assert "admin" in user  # the provider's admin group made alice a system administrator
    assert "Log out" in content


async def test_a_callback_from_another_browser_is_refused(berth: Berth, oidc_mode: None) -> None:
    async with httpx.AsyncClient(base_url=berth.url, timeout=30) as victim:
        approved = await _sign_in(victim)
    async with httpx.AsyncClient(base_url=berth.url, timeout=30) as attacker:
        r = await attacker.get(approved.headers["location"])
        assert r.status_code == 403, r.text
        assert "sid" not in r.cookies


async def _set_cli_secret(browser: httpx.AsyncClient) -> dict[str, Any]:
    """The signed-in user sets CLI_SECRET as their CLI secret; the user as the API shows it."""
    me: dict[str, Any] = (await browser.get("/api/v2.0/users/current")).json()
    csrf = (await browser.get("/api/v2.0/users/current")).headers["x-harbor-csrf-token"]
    r = await browser.put(
        f"/api/v2.0/users/{me['user_id']}/cli_secret",
        json={"secret": CLI_SECRET},
        headers={"X-Harbor-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    return me


async def test_cli_secret_logs_skopeo_and_harborapi_in(
    berth: Berth, oidc_mode: None, tmp_path: Path
) -> None:
    await create_project(berth, "team")
    async with httpx.AsyncClient(base_url=berth.url, timeout=30) as browser:
        approved = await _sign_in(browser)
        assert (await browser.get(approved.headers["location"])).status_code == 302
        await _set_cli_secret(browser)
        shown = (await browser.get("/api/v2.0/users/current")).json()
        assert shown["oidc_user_meta"]["secret"] == CLI_SECRET

    async with harbor(berth, "alice", CLI_SECRET) as client:
        assert (await client.get_current_user()).username == "alice"
    async with harbor(berth, "alice", "WrongSecret1") as client:
        with pytest.raises(Unauthorized):
            await client.get_current_user()

    box = Toolbox(tmp_path / "tools")
    try:
        host = berth.url.removeprefix("http://")
        image = build_image("amd64", 1)
        layout = tmp_path / "layout"
        write_layout(
            layout,
            {**image.blobs, image.digest: image.manifest},
            image.manifest,
            OCI_MANIFEST,
            "v1",
        )
        refused = await asyncio.to_thread(
            box.run,
            ["skopeo", "login", "--tls-verify=false", "-u", "alice", "-p", "WrongSecret1", host],
            check=False,
        )
        assert refused.returncode != 0
        await asyncio.to_thread(
            box.run,
            ["skopeo", "login", "--tls-verify=false", "-u", "alice", "-p", CLI_SECRET, host],
        )
        await asyncio.to_thread(
            box.run,
            [
                "skopeo",
                "copy",
                "--dest-tls-verify=false",
                f"oci:{layout}:v1",
                f"docker://{host}/team/app:v1",
            ],
        )
        raw = await asyncio.to_thread(
            box.run,
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/team/app:v1"],
        )
        assert raw.stdout == image.manifest
    finally:
        box.close()


async def _set_provider_groups(provider: str, groups: list[str]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.put(f"{provider}/groups", json=groups)).status_code == 200


async def _signed_in_browser(berth: Berth) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(base_url=berth.url, timeout=30)
    approved = await _sign_in(browser)
    assert (await browser.get(approved.headers["location"])).status_code == 302
    return browser


def _push(box: Toolbox, tmp_path: Path, host: str, target: str, seed: int) -> int:
    image = build_image("amd64", seed)
    layout = tmp_path / f"layout-{seed}"
    write_layout(
        layout, {**image.blobs, image.digest: image.manifest}, image.manifest, OCI_MANIFEST, "v1"
    )
    pushed = box.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{target}"],
        check=False,
    )
    return pushed.returncode


async def test_an_oidc_group_member_entry_gives_the_group_s_users_its_role(
    berth: Berth, oidc_mode: None, provider: str, tmp_path: Path
) -> None:
    """The groups claim makes OIDC user groups; a project member entry of one gives its users
    the role through the CLI secret (skopeo), the API and the portal session, until the
    provider drops them from the group and they sign in again."""
    await create_project(berth, "squad")
    async with api(berth) as a:
        # Added by name before anyone of the group has signed in, as Harbor allows.
        r = await a.post(
            "/projects/squad/members",
            json={"role_id": 2, "member_group": {"group_name": "devs", "group_type": 3}},
        )
        assert r.status_code == 201, r.text
    await _set_provider_groups(provider, ["devs"])

    browser = await _signed_in_browser(berth)
    try:
        me = await _set_cli_secret(browser)
        # Not in the admin group any more: an ordinary user.
        assert me["sysadmin_flag"] is False
        # The portal session carries the group's role, in the API and on the portal's pages.
        assert (await browser.get("/api/v2.0/projects/squad")).status_code == 200
        page = await browser.get("/projects/squad/repositories")
        assert page.status_code == 200, page.text
        assert "squad" in page.text
    finally:
        await browser.aclose()
    async with api(berth) as a:
        found = (await a.get("/usergroups")).json()
        devs = [g for g in found if g["group_name"] == "devs"]
        assert len(devs) == 1, found
        assert devs[0]["group_type"] == 3

    host = berth.url.removeprefix("http://")
    box = Toolbox(tmp_path / "tools")
    try:
        await asyncio.to_thread(
            box.run,
            ["skopeo", "login", "--tls-verify=false", "-u", "alice", "-p", CLI_SECRET, host],
        )
        assert await asyncio.to_thread(_push, box, tmp_path, host, f"{host}/squad/app:v1", 1) == 0
        async with api(berth, ("alice", CLI_SECRET)) as alice:
            r = await alice.get("/projects/squad/repositories")
            assert r.status_code == 200, r.text
            assert [repo["name"] for repo in r.json()] == ["squad/app"]

        # The provider's administrator takes alice out of devs; her next sign-in says so.
        await _set_provider_groups(provider, [])
        browser = await _signed_in_browser(berth)
        try:
            assert (await browser.get("/api/v2.0/projects/squad")).status_code == 403
            page = await browser.get("/projects/squad/repositories")
            assert page.status_code in (403, 404), page.text
        finally:
            await browser.aclose()
        assert await asyncio.to_thread(_push, box, tmp_path, host, f"{host}/squad/app:v2", 2) != 0
        async with api(berth, ("alice", CLI_SECRET)) as alice:
            r = await alice.get("/projects/squad/repositories")
            assert r.status_code == 403, r.text
    finally:
        box.close()
