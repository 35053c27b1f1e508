"""The portal's forms over real HTTP: login (database and LDAP users, the login form's CSRF
token, one message for any wrong credential, no open redirect), sessions shared with ``/c/login``
and the API, and the CSRF token every signed-in form must carry."""

from __future__ import annotations

import re

import httpx

from registry.db import jobs as jobs_db
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.test_ldap_login import ldap_settings, use_ldap
from tests.integration.ldap_server import LdapServer

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, f"no csrf_token field in:\n{html[:2000]}"
    return found.group(1)


async def _log_in(
    client: httpx.AsyncClient, username: str, password: str, **extra: str
) -> httpx.Response:
    page = await client.get("/")
    form = {"csrf_token": _token(page.text), "username": username, "password": password, **extra}
    return await client.post("/", data=form)


async def test_login_form_wants_its_token_and_says_nothing_about_which_part_was_wrong(
    berth: Berth,
) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        forged = await client.post("/", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert forged.status_code == 403
        assert "sid" not in forged.cookies
        wrong_password = await _log_in(client, "admin", "wrong")
        unknown_user = await _log_in(client, "nobody", ADMIN_PASSWORD)
        for answer in (wrong_password, unknown_user):
            assert answer.status_code == 401
            assert "Invalid user name or password." in answer.text
        alerts = [
            re.findall(r'role="alert"[^>]*>([^<]*)<', a.text)
            for a in (wrong_password, unknown_user)
        ]
        assert alerts[0] == alerts[1] == ["Invalid user name or password."]


async def test_a_portal_login_is_a_session_for_the_api_too_and_next_stays_on_site(
    berth: Berth,
) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        answer = await _log_in(client, "admin", ADMIN_PASSWORD, next="//evil.example/steal")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/projects"
        current = await client.get("/api/v2.0/users/current")
        assert current.status_code == 200, current.text
        assert current.json()["username"] == "admin"
        page = await client.get("/projects")
        assert page.status_code == 200
        assert "Log out" in page.text


async def test_a_c_login_session_opens_the_portal_and_forms_need_its_csrf_token(
    berth: Berth,
) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        login = await client.post(
            "/c/login", data={"principal": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200
        header_token = login.headers["x-harbor-csrf-token"]
        page = await client.get("/projects")
        assert page.status_code == 200
        assert _token(page.text) == header_token
        without = await client.post("/projects", data={"project_name": "nocsrf"})
        assert without.status_code == 403
        wrong = await client.post("/projects", data={"project_name": "nocsrf", "csrf_token": "x"})
        assert wrong.status_code == 403
        made = await client.post(
            "/projects",
            data={"project_name": "withcsrf", "storage_limit": "5 MiB", "csrf_token": header_token},
        )
        assert made.status_code == 303, made.text
        quota = await client.get("/api/v2.0/quotas", params={"reference_id": "2"})
        assert any(q["hard"]["storage"] == 5 * 1024**2 for q in quota.json()), quota.text
        assert (await client.get("/api/v2.0/projects?name=nocsrf")).json() == []
        out = await client.get("/c/log_out")
        assert out.status_code == 200
        assert (await client.get("/projects")).status_code == 303


async def test_a_form_error_renders_on_the_form(berth: Berth) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        await _log_in(client, "admin", ADMIN_PASSWORD)
        token = _token((await client.get("/projects")).text)
        taken = await client.post(
            "/projects", data={"project_name": "library", "csrf_token": token}
        )
        assert taken.status_code == 409
        assert 'role="alert"' in taken.text
        assert "library already exists" in taken.text
        assert 'value="library"' in taken.text  # what was typed stays in the field


async def test_anonymous_visitors_are_sent_to_log_in(berth: Berth) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        answer = await client.get("/projects/library/members")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/?next=%2Fprojects%2Flibrary%2Fmembers"


async def test_ldap_users_log_in_to_the_portal(berth: Berth, ldap_server: LdapServer) -> None:
    await use_ldap(berth, ldap_server)
    async with httpx.AsyncClient(base_url=berth.url) as client:
        refused = await _log_in(client, "alice", "wrong")
        assert refused.status_code == 401
        assert "Invalid user name or password." in refused.text
        answer = await _log_in(client, "alice", ldap_server.password("alice"))
        assert answer.status_code == 303, answer.text
        page = await client.get("/projects")
        assert page.status_code == 200
        assert "alice" in page.text
        assert "Administration" not in page.text


async def test_the_ldap_test_button_tries_the_settings_on_the_form(
    berth: Berth, ldap_server: LdapServer
) -> None:
    settings = ldap_settings(ldap_server)
    async with httpx.AsyncClient(base_url=berth.url) as client:
        await _log_in(client, "admin", ADMIN_PASSWORD)
        token = _token((await client.get("/admin/configuration")).text)
        form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}
        form["ldap_verify_cert"] = "on" if settings.get("ldap_verify_cert") else ""
        good = await client.post(
            "/admin/configuration/ldap-test", data={**form, "csrf_token": token}
        )
        assert good.status_code == 200, good.text
        assert "LDAP test: Connected to the LDAP server." in good.text
        # The typed bind password is not echoed back into the page.
        assert ldap_server.reader_password not in good.text
        form["ldap_search_password"] = "wrong"
        bad = await client.post(
            "/admin/configuration/ldap-test", data={**form, "csrf_token": token}
        )
        assert "LDAP test:" in bad.text
        assert "Connected" not in bad.text


async def test_metrics_are_served_on_the_main_port_by_default(berth: Berth) -> None:
    async with httpx.AsyncClient(base_url=berth.url) as client:
        await client.get("/projects")
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert 'berth_http_requests_total{method="GET",route="/projects",status="303"}' in answer.text
    assert "berth_projects 1.0" in answer.text


async def test_the_dashboard_links_failed_jobs_without_naming_webhook_targets(
    berth: Berth,
) -> None:
    db = berth.app.state.backends.db
    secret_url = "https://hooks.example/services/T0/B0/secret-token"
    delivery = await jobs_db.create(
        db,
        "WEBHOOK",
        {"project_id": 1, "event_type": "PUSH_ARTIFACT", "target": {"address": secret_url}},
        trigger="EVENT",
    )
    await jobs_db.finish(db, delivery, "Error")
    collection = await jobs_db.create(db, "GARBAGE_COLLECTION", {})
    await jobs_db.finish(db, collection, "Error")
    async with httpx.AsyncClient(base_url=berth.url) as client:
        await _log_in(client, "admin", ADMIN_PASSWORD)
        page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "webhook delivery (PUSH_ARTIFACT) in library" in page.text
    assert 'href="/projects/library/webhooks"' in page.text
    assert f'href="/admin/gc/{collection}/log"' in page.text
    assert "secret-token" not in page.text
    assert "hooks.example" not in page.text
