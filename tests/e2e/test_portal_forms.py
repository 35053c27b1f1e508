"""The portal's forms that change a project's and the system's settings, in a real browser
(Chromium through Playwright) against one ``berth serve``: a webhook created from the
Webhooks tab fires on a push and shows its delivery, is disabled and deleted; tag retention
rules are added, edited and scheduled; labels are attached to and removed from an artifact;
a registry and a replication rule are edited in forms filled with what is stored, and a
running execution is stopped while its task list refreshes by itself; a scanner is registered
after "Test connection" and the scan-all schedule is set. A guest sees none of those buttons
and is refused when posting the forms anyway.

The tests build on each other (one server, one browser), in file order.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e._browser import artifacts_dir, chromium, signed_in_page
from tests.e2e._jobs import WebhookSink, state_dir
from tests.e2e._servers import Registry, start_berth, start_distribution
from tests.e2e.test_portal import push_image
from tests.e2e.test_replication import FlakyFront

pytestmark = pytest.mark.e2e

PROJECT = "portal-forms"
GUEST = "gus"
GUEST_PASSWORD = "Guest-Passw0rd"
REMOTE_PASSWORD = "Mirror-Passw0rd"
AUTH_HEADER = "Bearer hook-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    with state_dir("portal-forms") as found:
        yield found


@pytest.fixture(scope="module")
def berth(root: Path) -> Iterator[Registry]:
    password = "Portal-" + secrets.token_urlsafe(10)
    server, host = start_berth(root / "data", password=password, name="berth-portal-forms")
    try:
        yield Registry("berth", host, "admin", password, [server])
    finally:
        result = server.stop()
    assert result.clean, result.explain()


@pytest.fixture(scope="module")
def api(berth: Registry) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{berth.url}/api/v2.0", auth=(berth.username, berth.password), timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=20_000)
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = artifacts_dir(tmp_path_factory.mktemp("portal-forms-screenshots"))
    print(f"\nportal screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def admin(browser: Browser, berth: Registry, api: httpx.Client) -> Iterator[Page]:
    created = api.post("/projects", json={"project_name": PROJECT, "metadata": {}})
    assert created.status_code == 201, created.text
    with signed_in_page(browser, berth.url, berth.username, berth.password) as page:
        yield page


@pytest.fixture(scope="module")
def sink() -> Iterator[WebhookSink]:
    with WebhookSink().running() as running:
        yield running


@pytest.fixture(scope="module")
def remote() -> Iterator[FlakyFront]:
    """A Distribution with htpasswd credentials, reached through a front that answers 503 to
    the repositories whose path holds ``halt`` (so their tasks keep retrying)."""
    with state_dir("portal-forms-remote") as root:
        server, host = start_distribution(
            root / "dist", username="mirror", password=REMOTE_PASSWORD, name="portal-forms-remote"
        )
        front = FlakyFront(f"http://{host}", "halt")
        try:
            yield front
        finally:
            front.close()
            server.stop()


def _created_id(response: httpx.Response) -> int:
    assert response.status_code == 201, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_a_webhook_is_created_on_its_tab_fires_and_is_disabled_and_deleted(
    admin: Page, berth: Registry, api: httpx.Client, sink: WebhookSink, tmp_path: Path, shots: Path
) -> None:
    admin.goto(f"/projects/{PROJECT}/repositories")
    admin.get_by_role("navigation", name="Project").get_by_role("link", name="Webhooks").click()
    expect(admin.get_by_text("No webhooks.")).to_be_visible()
    admin.get_by_text("New webhook").click()
    admin.get_by_label("Webhook name").fill("ci-hook")
    admin.get_by_label("Endpoint URL").fill(sink.address)
    admin.get_by_label("Auth header").fill(AUTH_HEADER)
    admin.get_by_label("Skip certificate verification").check()
    # No event chosen: the service's message shows on the form, which keeps what was typed.
    admin.get_by_role("button", name="Add webhook").click()
    expect(admin.get_by_role("alert")).to_contain_text("event_types")
    expect(admin.get_by_label("Webhook name")).to_have_value("ci-hook")
    admin.get_by_label("PUSH_ARTIFACT").check()
    admin.get_by_label("Auth header").fill(AUTH_HEADER)
    admin.get_by_role("button", name="Add webhook").click()
    expect(admin.get_by_role("status")).to_have_text("Webhook ci-hook added.")
    row = admin.locator("tr[data-webhook=ci-hook]")
    expect(row).to_contain_text("PUSH_ARTIFACT")
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("Not fired yet.")
    # The auth header is write-only.
    expect(admin.locator("body")).not_to_contain_text(AUTH_HEADER)
    policies = api.get(f"/projects/{PROJECT}/webhook/policies").json()
    assert policies[0]["targets"][0]["skip_cert_verify"] is True

    push_image(berth, tmp_path, f"{PROJECT}/app", "1.0")
    deliveries = row.get_by_role("list", name="Deliveries of ci-hook")
    for _ in range(60):
        if deliveries.locator("li[data-status=Success]").count():
            break
        admin.wait_for_timeout(500)
        admin.reload()
    expect(deliveries.locator("li").first).to_contain_text("PUSH_ARTIFACT")
    expect(deliveries.locator("li").first).to_have_attribute("data-status", "Success")
    assert [event.get("type") for event in sink.received] == ["PUSH_ARTIFACT"], sink.received
    assert sink.authorizations == [AUTH_HEADER]
    admin.screenshot(path=shots / "webhooks.png", full_page=True)

    row.get_by_role("button", name="Disable webhook ci-hook").click()
    expect(admin.get_by_role("status")).to_have_text("Webhook ci-hook disabled.")
    expect(row).to_contain_text("Disabled")
    row.get_by_role("button", name="Enable webhook ci-hook").click()
    expect(row).to_contain_text("Enabled")
    # Disabling and enabling kept the auth header: the next delivery still sends it.
    push_image(berth, tmp_path, f"{PROJECT}/app", "1.1")
    for _ in range(60):
        if len(sink.authorizations) == 2:
            break
        admin.wait_for_timeout(500)
    assert sink.authorizations == [AUTH_HEADER, AUTH_HEADER]
    admin.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete webhook ci-hook").click()
    expect(admin.get_by_role("status")).to_have_text("Webhook ci-hook deleted.")
    expect(admin.get_by_text("No webhooks.")).to_be_visible()


def test_retention_rules_are_added_edited_deleted_and_scheduled(
    admin: Page, api: httpx.Client, shots: Path
) -> None:
    admin.goto(f"/projects/{PROJECT}/retention")
    expect(admin.get_by_text("No retention rules")).to_be_visible()
    form = admin.get_by_role("form", name="New retention rule")
    form.get_by_label("Retain").select_option(label="the most recently pushed # artifacts")
    form.get_by_label("Count or days (#)").fill("3")
    form.get_by_label("Repository pattern").fill("app")
    form.get_by_label("Tag pattern").fill("release-*")
    form.get_by_label("Include untagged artifacts").uncheck()
    form.get_by_role("button", name="Add rule").click()
    expect(admin.get_by_role("status")).to_have_text("Rule added.")
    first = admin.locator("tr[data-rule='1']")
    expect(first).to_contain_text("Retain the most recently pushed 3 artifacts")
    expect(first).to_contain_text("matching app")
    expect(first).to_contain_text("matching release-*")
    expect(first).to_contain_text("not included")

    form = admin.get_by_role("form", name="New retention rule")
    form.get_by_label("Retain").select_option(label="always")
    form.get_by_label("Tags", exact=True).select_option(label="excluding")
    form.get_by_label("Tag pattern").fill("dev-*")
    form.get_by_role("button", name="Add rule").click()
    expect(admin.locator("tr[data-rule='2']")).to_contain_text("Retain always")
    expect(admin.locator("tr[data-rule='2']")).to_contain_text("excluding dev-*")

    # Edit rule 1: its form comes filled with the stored rule.
    first.get_by_role("link", name="Edit rule 1").click()
    editing = admin.get_by_role("form", name="Edit rule 1")
    expect(editing.get_by_label("Count or days (#)")).to_have_value("3")
    expect(editing.get_by_label("Repository pattern")).to_have_value("app")
    expect(editing.get_by_label("Tag pattern")).to_have_value("release-*")
    expect(editing.get_by_label("Include untagged artifacts")).not_to_be_checked()
    editing.get_by_label("Retain").select_option(label="pulled within the last # days")
    editing.get_by_label("Count or days (#)").fill("seven")
    editing.get_by_role("button", name="Save rule").click()
    expect(admin.get_by_role("alert")).to_have_text(
        "Give the rule's count or number of days as a whole number."
    )
    editing = admin.get_by_role("form", name="Edit rule 1")
    editing.get_by_label("Count or days (#)").fill("7")
    editing.get_by_role("button", name="Save rule").click()
    expect(admin.get_by_role("status")).to_have_text("Rule saved.")
    expect(first).to_contain_text("Retain pulled within the last 7 days")
    expect(first).to_contain_text("matching app")

    admin.get_by_label("Schedule", exact=True).select_option("Custom")
    admin.get_by_label(re.compile("^Cron")).fill("not a cron")
    admin.get_by_role("button", name="Save schedule").click()
    expect(admin.get_by_role("alert")).to_contain_text("Schedule:")
    admin.get_by_label("Schedule", exact=True).select_option("Daily")
    admin.get_by_role("button", name="Save schedule").click()
    expect(admin.get_by_role("status")).to_have_text("Schedule saved.")
    expect(admin.get_by_label("Schedule", exact=True)).to_have_value("Daily")
    expect(admin.get_by_role("button", name="Dry run")).to_be_visible()
    admin.screenshot(path=shots / "retention-rules.png", full_page=True)

    project = api.get(f"/projects/{PROJECT}").json()
    policy = api.get(f"/retentions/{project['metadata']['retention_id']}").json()
    assert policy["trigger"]["settings"]["cron"] == "0 0 0 * * *"
    assert [r["template"] for r in policy["rules"]] == ["nDaysSinceLastPull", "always"]
    assert policy["rules"][0]["params"] == {"nDaysSinceLastPull": 7}

    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Delete rule 2").click()
    expect(admin.get_by_role("status")).to_have_text("Rule deleted.")
    expect(admin.locator("tr[data-rule]")).to_have_count(1)


def test_labels_are_attached_to_and_removed_from_an_artifact(
    admin: Page, api: httpx.Client, shots: Path
) -> None:
    project_id = api.get(f"/projects/{PROJECT}").json()["project_id"]
    for body in (
        {"name": "qa-passed", "scope": "p", "project_id": project_id},
        {"name": "company-wide", "scope": "g"},
    ):
        made = api.post("/labels", json=body)
        assert made.status_code == 201, made.text
    admin.goto(f"/projects/{PROJECT}/repositories/app")
    admin.locator("h3.digest a").first.click()
    labels = admin.locator("#artifact-labels")
    expect(labels).to_contain_text("No labels.")
    admin.get_by_label("Label", exact=True).select_option(label="qa-passed")
    labels.get_by_role("button", name="Add label").click()
    expect(admin.get_by_role("status")).to_have_text("Label added.")
    admin.get_by_label("Label", exact=True).select_option(label="company-wide")
    labels.get_by_role("button", name="Add label").click()
    chips = admin.get_by_role("list", name="Labels of this artifact")
    expect(chips.locator(".label-chip")).to_have_text(["company-wide", "qa-passed"])
    expect(labels.get_by_role("button", name="Add label")).to_have_count(0)
    admin.screenshot(path=shots / "artifact-labels.png", full_page=True)
    artifacts = api.get(f"/projects/{PROJECT}/repositories/app/artifacts?with_label=true").json()
    assert {label["name"] for label in artifacts[0]["labels"]} == {"company-wide", "qa-passed"}

    labels.get_by_role("button", name="Remove label company-wide").click()
    expect(admin.get_by_role("status")).to_have_text("Label removed.")
    expect(chips.locator(".label-chip")).to_have_text(["qa-passed"])


def test_a_registry_and_a_rule_are_edited_and_a_running_execution_is_stopped(
    admin: Page, berth: Registry, api: httpx.Client, remote: FlakyFront, tmp_path: Path, shots: Path
) -> None:
    registry_id = _created_id(
        api.post(
            "/registries",
            json={
                "name": "mirror",
                "type": "docker-registry",
                "url": remote.url,
                "credential": {
                    "type": "basic",
                    "access_key": "mirror",
                    "access_secret": REMOTE_PASSWORD,
                },
            },
        )
    )
    admin.goto("/admin/registries")
    admin.get_by_role("link", name="Edit registry mirror").click()
    form = admin.get_by_role("form", name="Edit registry mirror")
    expect(form.get_by_label("Endpoint URL")).to_have_value(remote.url)
    expect(form.get_by_label("Access ID")).to_have_value("mirror")
    expect(form.get_by_label("Access secret")).to_have_value("")
    form.get_by_label("Description").fill("the mirror, edited")
    # The secret left empty: the test and the save use the stored one.
    form.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("status")).to_have_text(f"Connection to {remote.url} succeeded.")
    expect(form.get_by_label("Description")).to_have_value("the mirror, edited")
    form.get_by_role("button", name="Save registry").click()
    expect(admin.get_by_role("status")).to_have_text("Registry mirror saved.")
    stored = api.get(f"/registries/{registry_id}").json()
    assert stored["description"] == "the mirror, edited"
    ping = api.post("/registries/ping", json={"id": registry_id})
    assert ping.status_code == 200, ping.text

    policy_id = _created_id(
        api.post(
            "/replication/policies",
            json={
                "name": "to-mirror",
                "dest_registry": {"id": registry_id},
                "filters": [{"type": "name", "value": f"{PROJECT}/nothing"}],
                "trigger": {"type": "manual"},
            },
        )
    )
    admin.get_by_role("link", name="Replications").click()
    admin.get_by_role("link", name="Edit rule to-mirror").click()
    form = admin.get_by_role("form", name="Edit replication rule to-mirror")
    expect(form.get_by_label("Source resource filter: name")).to_have_value(f"{PROJECT}/nothing")
    expect(form.get_by_label("Remote registry")).to_have_value(str(registry_id))
    expect(form.get_by_label("Enabled")).to_be_checked()
    form.get_by_label("Source resource filter: name").fill(f"{PROJECT}/halt")
    form.get_by_label("Source resource filter: tag").fill("v1")
    form.get_by_role("button", name="Save rule").click()
    expect(admin.get_by_role("status")).to_have_text("Policy to-mirror saved.")
    filters = api.get(f"/replication/policies/{policy_id}").json()["filters"]
    assert {(f["type"], f["value"]) for f in filters} == {
        ("name", f"{PROJECT}/halt"),
        ("tag", "v1"),
    }

    push_image(berth, tmp_path, f"{PROJECT}/halt", "v1")
    admin.get_by_role("button", name="Replicate to-mirror").click()
    expect(admin.get_by_text(re.compile(r"Execution #\d+ of to-mirror started."))).to_be_visible()
    admin.locator("tr[id^=execution-]").first.get_by_role("link").click()
    tasks = admin.locator("#execution-tasks")
    # The task list refreshes by itself while the execution runs: its task shows up and keeps
    # being retried (the remote answers 503 for it).
    with admin.expect_request(lambda r: "view=tasks" in r.url):
        pass
    expect(tasks.get_by_role("row").filter(has_text=f"{PROJECT}/halt")).to_have_count(1)
    expect(tasks).to_have_attribute("data-running", "true")
    admin.screenshot(path=shots / "replication-running.png", full_page=True)
    # Stopped from the Replications list in another tab: the execution page, not reloaded,
    # sees the execution end and its task list stop refreshing.
    listing = admin.context.new_page()
    listing.goto("/admin/replications")
    listing.once("dialog", lambda dialog: dialog.accept())
    running = listing.locator("tr[id^=execution-]").first
    running.get_by_role("button", name=re.compile(r"Stop execution #\d+")).click()
    expect(listing.get_by_role("status")).to_have_text("Stopping the execution.")
    listing.close()
    expect(admin.locator("#execution-summary")).to_have_attribute(
        "data-status", "Stopped", timeout=60_000
    )
    expect(tasks).to_have_attribute("data-running", "false", timeout=10_000)
    expect(admin.get_by_role("status")).to_have_count(0)
    execution = api.get(f"/replication/executions?policy_id={policy_id}").json()[0]
    assert execution["status"] == "Stopped", execution


def test_a_scanner_is_registered_after_testing_it_and_scan_all_is_scheduled(
    admin: Page, api: httpx.Client, root: Path, shots: Path
) -> None:
    builtin = next(s for s in api.get("/scanners").json() if s["is_default"])
    # The built-in adapter under another name of its host is a second registration of it; it
    # answers only with the API key ``berth serve`` gave it, sent as a Bearer token.
    other_url = builtin["url"].replace("127.0.0.1", "localhost")
    assert other_url != builtin["url"]
    api_key = (root / "data" / "scanner" / "api.key").read_text().strip()
    admin.get_by_role("link", name="Scanners").click()
    admin.get_by_text("New scanner").click()
    form = admin.get_by_role("form", name="New scanner")
    form.get_by_label("Name").fill("second")
    form.get_by_label("Endpoint").fill(other_url)
    form.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("alert")).to_contain_text("401")
    form = admin.get_by_role("form", name="New scanner")
    expect(form.get_by_label("Name")).to_have_value("second")
    form.get_by_label("Authorization").select_option("Bearer")
    form.get_by_label(re.compile("^Credential")).fill(api_key)
    form.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Connection to {other_url} succeeded:")
    expect(admin.locator("body")).not_to_contain_text(api_key)
    form.get_by_label(re.compile("^Credential")).fill(api_key)
    form.get_by_role("button", name="Register scanner").click()
    expect(admin.get_by_role("status")).to_have_text("Scanner second registered.")
    second = admin.get_by_role("row").filter(has_text=other_url)
    expect(second).to_contain_text("healthy")
    second.get_by_role("button", name="Set second as default").click()
    expect(admin.locator("tr[data-default=true]")).to_contain_text("second")
    admin.get_by_role("button", name=f"Set {builtin['name']} as default").click()
    expect(admin.locator("tr[data-default=true]")).to_contain_text(builtin["name"])

    admin.get_by_label("Schedule", exact=True).select_option("Weekly")
    admin.get_by_role("button", name="Save schedule").click()
    expect(admin.get_by_role("status")).to_have_text("Scan-all schedule saved.")
    expect(admin.get_by_label("Schedule", exact=True)).to_have_value("Weekly")
    expect(admin.get_by_text("Next run:")).to_be_visible()
    admin.screenshot(path=shots / "scanners-forms.png", full_page=True)
    schedule = api.get("/system/scanAll/schedule").json()["schedule"]
    assert schedule["type"] == "Weekly", schedule


def _forged(page: Page, token: str, path: str, **fields: str) -> int:
    form: dict[str, Any] = {"csrf_token": token, **fields}
    return page.request.post(path, form=form, max_redirects=0).status


def test_a_guest_sees_none_of_the_buttons_and_is_refused_when_posting(
    browser: Browser, berth: Registry, api: httpx.Client, sink: WebhookSink
) -> None:
    made = api.post(
        "/users",
        json={
            "username": GUEST,
            "email": f"{GUEST}@example.com",
            "realname": "Gus",
            "password": GUEST_PASSWORD,
        },
    )
    assert made.status_code == 201, made.text
    member = api.post(
        f"/projects/{PROJECT}/members", json={"role_id": 3, "member_user": {"username": GUEST}}
    )
    assert member.status_code == 201, member.text
    hook = {
        "name": "kept",
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"type": "http", "address": sink.address}],
    }
    hook_id = _created_id(api.post(f"/projects/{PROJECT}/webhook/policies", json=hook))
    registry_id = api.get("/registries").json()[0]["id"]
    policy_id = api.get("/replication/policies").json()[0]["id"]
    execution_id = api.get(f"/replication/executions?policy_id={policy_id}").json()[0]["id"]
    artifact = api.get(f"/projects/{PROJECT}/repositories/app/artifacts?with_label=true").json()[0]
    label_id = artifact["labels"][0]["id"]
    artifact_path = f"/projects/{PROJECT}/repositories/app/artifacts/{artifact['digest']}"

    with signed_in_page(browser, berth.url, GUEST, GUEST_PASSWORD) as page:
        # A guest may not even list the webhooks: no tab, and the page is refused.
        page.goto(f"/projects/{PROJECT}/repositories")
        tabs = page.get_by_role("navigation", name="Project")
        expect(tabs.get_by_role("link", name="Tag retention")).to_be_visible()
        expect(tabs.get_by_role("link", name="Webhooks")).to_have_count(0)
        opened = page.goto(f"/projects/{PROJECT}/webhooks")
        assert opened is not None
        assert opened.status == 403
        page.goto(f"/projects/{PROJECT}/retention")
        expect(page.locator("tr[data-rule]")).to_have_count(1)
        expect(page.get_by_role("button", name=re.compile("rule|schedule|Dry run"))).to_have_count(
            0
        )
        expect(page.get_by_role("link", name=re.compile("Edit rule"))).to_have_count(0)
        page.goto(artifact_path)
        expect(page.get_by_role("list", name="Labels of this artifact")).to_contain_text(
            "qa-passed"
        )
        expect(page.get_by_role("button", name=re.compile("label", re.I))).to_have_count(0)

        token = page.locator("input[name=csrf_token]").first.input_value()
        refused = {
            f"/projects/{PROJECT}/webhooks": {
                "name": "evil",
                "address": sink.address,
                "event_type": "PUSH_ARTIFACT",
            },
            f"/projects/{PROJECT}/webhooks/{hook_id}/enabled": {"enabled": "false"},
            f"/projects/{PROJECT}/webhooks/{hook_id}/delete": {},
            f"/projects/{PROJECT}/retention/rules": {"template": "always"},
            f"/projects/{PROJECT}/retention/rules/1/delete": {},
            f"/projects/{PROJECT}/retention/schedule": {"schedule_type": "Hourly"},
            f"{artifact_path}/labels": {"label_id": str(label_id)},
            f"{artifact_path}/labels/{label_id}/delete": {},
            f"/admin/registries/{registry_id}": {"name": "evil"},
            f"/admin/replications/{policy_id}": {"name": "evil"},
            f"/admin/replications/executions/{execution_id}/stop": {},
            "/admin/scanners": {"name": "evil", "url": "http://127.0.0.1:9"},
            "/admin/scanners/scan-all/schedule": {"schedule_type": "Hourly"},
        }
        for path, fields in refused.items():
            assert _forged(page, token, path, **fields) == 403, path
        for path in (
            f"/admin/registries/{registry_id}/edit",
            f"/admin/replications/{policy_id}/edit",
        ):
            opened = page.goto(path)
            assert opened is not None, path
            assert opened.status == 403, path
    # Nothing the guest posted changed anything.
    assert api.get(f"/projects/{PROJECT}/webhook/policies/{hook_id}").json()["enabled"] is True
    assert api.get(f"/registries/{registry_id}").json()["name"] == "mirror"
    assert api.get("/system/scanAll/schedule").json()["schedule"]["type"] == "Weekly"


def test_a_form_without_the_session_token_is_refused(admin: Page, api: httpx.Client) -> None:
    posted = admin.request.post(
        "/admin/scanners/scan-all/schedule", form={"schedule_type": "Hourly"}, max_redirects=0
    )
    assert posted.status == 403, posted.text()
    forged = admin.request.post(
        f"/projects/{PROJECT}/retention/schedule",
        form={"csrf_token": "not-the-token", "schedule_type": "Hourly"},
        max_redirects=0,
    )
    assert forged.status == 403, forged.text()
    assert api.get("/system/scanAll/schedule").json()["schedule"]["type"] == "Weekly"
