"""The web portal in a real browser (Chromium through Playwright) against ``berth serve``:
logging in, creating a project, seeing a pushed image, members and their permitted view,
garbage collection with live progress, logging out; and ``/metrics`` scraped afterwards.

The tests of this module build on each other (one server, one browser), in file order.
Screenshots of the main pages are written to the directory printed at the start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e._browser import DESKTOP, PHONE, artifacts_dir, chromium, log_in
from tests.e2e._jobs import state_dir
from tests.e2e._oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Image,
    MultiArch,
    build_image,
    build_multi_arch,
    write_layout,
)
from tests.e2e._servers import Registry, free_port, start_berth
from tests.e2e._tools import Toolbox

pytestmark = pytest.mark.e2e

PROJECT = "portal-team"
REPOSITORY = f"{PROJECT}/web/app"
GUEST = "gwen"
GUEST_PASSWORD = "Guest-Passw0rd"


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def berth(metrics_port: int) -> Iterator[Registry]:
    password = "Portal-Admin-1"
    with state_dir("portal") as root:
        extra_env = {
            # No grace: blobs freed by a delete are collectable at once, so GC frees bytes.
            "BERTH_GC_GRACE_SECONDS": "0",
            "BERTH_METRICS__PORT": str(metrics_port),
        }
        server, host = start_berth(root / "data", password=password, extra_env=extra_env)
        try:
            yield Registry("berth", host, "admin", password, [server])
        finally:
            result = server.stop()
            assert result.clean, result.explain() + "\n" + server.describe()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # A busy CI machine can take more than the default 5 s to answer a page.
    expect.set_options(timeout=15_000)
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = artifacts_dir(tmp_path_factory.mktemp("portal-screenshots"))
    print(f"\nportal screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def admin(browser: Browser, berth: Registry) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=berth.url)
    page = context.new_page()
    yield page
    context.close()


def push_image(berth: Registry, workdir: Path, repository: str, tag: str) -> Image:
    """Push a fresh two-layer image with skopeo, as a user would."""
    image = build_image("amd64", 2)
    layout = workdir / f"layout-{tag}"
    write_layout(
        layout, image.blobs | {image.digest: image.manifest}, image.manifest, OCI_MANIFEST, tag
    )
    _skopeo_push(berth, workdir, layout, repository, tag)
    return image


def push_index(berth: Registry, workdir: Path, repository: str, tag: str) -> MultiArch:
    """Push an amd64 + arm64 index with skopeo (``--all``)."""
    multi = build_multi_arch()
    layout = workdir / f"layout-{tag}"
    write_layout(layout, multi.all_blobs(), multi.index, OCI_INDEX, tag)
    _skopeo_push(berth, workdir, layout, repository, tag, "--all")
    return multi


def _skopeo_push(
    berth: Registry, workdir: Path, layout: Path, repository: str, tag: str, *flags: str
) -> None:
    toolbox = Toolbox(workdir / "tools")
    try:
        toolbox.run(
            [
                "skopeo",
                "copy",
                *flags,
                "--preserve-digests",
                "--dest-tls-verify=false",
                "--dest-creds",
                berth.creds,
                f"oci:{layout}:{tag}",
                f"docker://{berth.host}/{repository}:{tag}",
            ]
        )
    finally:
        toolbox.close()


def test_wrong_password_says_so_without_saying_which_part(
    admin: Page, berth: Registry, shots: Path
) -> None:
    log_in(admin, "admin", "not-the-password")
    expect(admin.get_by_role("alert")).to_have_text("Invalid user name or password.")
    log_in(admin, "nobody-by-this-name", "whatever")
    expect(admin.get_by_role("alert")).to_have_text("Invalid user name or password.")
    admin.screenshot(path=shots / "login-error.png")


def test_admin_logs_in_with_the_keyboard(admin: Page, berth: Registry, shots: Path) -> None:
    admin.goto("/")
    # The username field has focus; Tab and Enter do the rest.
    admin.keyboard.type("admin")
    admin.keyboard.press("Tab")
    admin.keyboard.type(berth.password)
    admin.keyboard.press("Enter")
    admin.wait_for_url("**/projects")
    expect(admin.get_by_role("heading", name="Projects")).to_be_visible()
    expect(admin.get_by_role("link", name="library")).to_be_visible()
    expect(admin.get_by_role("button", name="Log out")).to_be_visible()
    admin.screenshot(path=shots / "projects.png", full_page=True)


def test_admin_creates_a_private_project_with_a_limit(admin: Page, shots: Path) -> None:
    admin.goto("/projects")
    admin.get_by_text("New project").click()
    admin.get_by_label("Project name").fill("Not Valid!")
    admin.get_by_role("button", name="Create").click()
    # The browser's own pattern check may stop it first; either way no project is made.
    admin.get_by_label("Project name").fill(PROJECT)
    admin.get_by_label("Storage limit (optional)").fill("1 GiB")
    expect(admin.get_by_label("Public")).not_to_be_checked()
    admin.get_by_role("button", name="Create").click()
    admin.wait_for_url(f"**/projects/{PROJECT}/repositories**")
    expect(admin.get_by_role("status")).to_have_text(f"Project {PROJECT} created.")
    for tab in (
        "Repositories",
        "Members",
        "Robot accounts",
        "Labels",
        "Tag immutability",
        "Tag retention",
        "Webhooks",
        "Logs",
        "Configuration",
    ):
        expect(
            admin.get_by_role("navigation", name="Project").get_by_role("link", name=tab)
        ).to_be_visible()
    admin.goto(f"/projects?q={PROJECT}")
    row = admin.get_by_role("row", name=re.compile(PROJECT))
    expect(row.get_by_text("Private")).to_be_visible()
    expect(row.get_by_text("0 B of 1.0 GiB")).to_be_visible()
    expect(admin.get_by_role("link", name="library")).to_have_count(0)  # the search filters


def test_a_pushed_image_shows_its_tag_digest_and_pull_commands(
    admin: Page, berth: Registry, tmp_path: Path, shots: Path
) -> None:
    image = push_image(berth, tmp_path, REPOSITORY, "1.0")
    admin.goto(f"/projects/{PROJECT}/repositories")
    admin.get_by_role("link", name=REPOSITORY).click()
    expect(admin.get_by_role("heading", name=image.digest)).to_be_visible()
    card = admin.get_by_role("article")
    expect(card.locator(".tag", has_text="1.0")).to_be_visible()
    expect(card.get_by_text("linux/amd64")).to_be_visible()
    expect(card.get_by_role("textbox", name="docker pull")).to_have_value(
        f"docker pull {berth.host}/{REPOSITORY}:1.0"
    )
    expect(card.get_by_role("textbox", name="podman pull")).to_have_value(
        f"podman pull {berth.host}/{REPOSITORY}:1.0"
    )

    card.get_by_label("New tag").fill("stable")
    card.get_by_role("button", name="Add tag").click()
    expect(admin.get_by_role("status")).to_have_text("Tag stable added.")
    expect(admin.get_by_role("article").locator(".tag", has_text="stable")).to_be_visible()
    admin.get_by_role("button", name="Remove tag stable").click()
    expect(admin.get_by_role("status")).to_have_text("Tag stable removed.")
    expect(admin.get_by_role("article").locator(".tag", has_text="stable")).to_have_count(0)

    admin.get_by_label("Copy to (project/repository)").fill("library/app-copy")
    admin.get_by_role("article").get_by_role("button", name="Copy", exact=True).click()
    expect(admin.get_by_role("status")).to_have_text("Copied to library/app-copy.")
    admin.screenshot(path=shots / "repository.png", full_page=True)
    with berth.client() as client:
        copied = client.head("/v2/library/app-copy/manifests/1.0", headers={"Accept": OCI_MANIFEST})
        assert copied.status_code == 200, copied.text
        assert copied.headers["docker-content-digest"] == image.digest


def test_an_index_shows_its_platforms(admin: Page, berth: Registry, tmp_path: Path) -> None:
    multi = push_index(berth, tmp_path, f"{PROJECT}/web/multi", "1")
    admin.goto(f"/projects/{PROJECT}/repositories/web/multi")
    card = admin.get_by_role("article").filter(has_text=multi.digest)
    expect(card.get_by_text("INDEX", exact=True)).to_be_visible()
    expect(card.get_by_text("linux/amd64, linux/arm64")).to_be_visible()
    expect(admin.get_by_role("article")).to_have_count(1)  # the platform images are in it


def test_admin_adds_a_user_and_makes_them_a_guest(admin: Page, shots: Path) -> None:
    admin.goto("/admin/users")
    admin.get_by_text("New user").click()
    admin.get_by_label("Username").fill(GUEST)
    admin.get_by_label("Email").fill("gwen@example.com")
    admin.get_by_label("Password", exact=True).fill(GUEST_PASSWORD)
    admin.get_by_role("button", name="Create user").click()
    expect(admin.get_by_role("status")).to_have_text(f"User {GUEST} created.")
    admin.screenshot(path=shots / "users.png", full_page=True)
    admin.goto(f"/projects/{PROJECT}/members")
    admin.get_by_label("User name").fill(GUEST)
    admin.get_by_label("Role").select_option(label="guest")
    admin.get_by_role("button", name="Add member").click()
    expect(admin.get_by_role("status")).to_have_text(f"{GUEST} added as guest.")
    expect(admin.get_by_role("row", name=re.compile(f"{GUEST}.*guest"))).to_be_visible()
    admin.screenshot(path=shots / "members.png", full_page=True)


def test_project_labels_rules_and_a_robot_that_pulls(
    admin: Page, berth: Registry, tmp_path: Path, shots: Path
) -> None:
    admin.goto(f"/projects/{PROJECT}/labels")
    admin.get_by_label("Label name").fill("reviewed")
    admin.get_by_role("button", name="Add label").click()
    expect(admin.get_by_role("status")).to_have_text("Label reviewed added.")
    expect(admin.get_by_role("cell", name="reviewed", exact=True)).to_be_visible()

    admin.goto(f"/projects/{PROJECT}/immutability")
    admin.get_by_label("Tags matching").fill("release-*")
    admin.get_by_role("button", name="Add rule").click()
    expect(admin.get_by_role("status")).to_have_text("Rule added.")
    expect(admin.get_by_role("cell", name="matches release-*", exact=True)).to_be_visible()

    with httpx.Client(
        base_url=f"{berth.url}/api/v2.0", auth=(berth.username, berth.password)
    ) as api:
        project_id = api.get(f"/projects/{PROJECT}").json()["project_id"]
        keep_ten = {
            "algorithm": "or",
            "scope": {"level": "project", "ref": project_id},
            "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "rules": [
                {
                    "action": "retain",
                    "template": "latestPushedK",
                    "params": {"latestPushedK": 10},
                    "tag_selectors": [
                        {"kind": "doublestar", "decoration": "matches", "pattern": "**"}
                    ],
                    "scope_selectors": {
                        "repository": [
                            {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                        ]
                    },
                }
            ],
        }
        made = api.post("/retentions", json=keep_ten)
        assert made.status_code == 201, made.text
    admin.goto(f"/projects/{PROJECT}/retention")
    expect(
        admin.get_by_role("cell", name="Retain the most recently pushed 10 artifacts")
    ).to_be_visible()
    admin.get_by_role("button", name="Dry run").click()
    expect(admin.get_by_role("status")).to_contain_text("Dry run #")
    latest = admin.locator("tbody tr[data-status]").first
    expect(latest).to_have_attribute("data-status", "Success", timeout=60_000)
    expect(latest).to_contain_text("Dry run")
    admin.screenshot(path=shots / "retention.png", full_page=True)

    admin.goto(f"/projects/{PROJECT}/robots")
    admin.get_by_label("Robot name").fill("ci")
    admin.get_by_label("Access").select_option("pull")
    admin.get_by_role("button", name="Add robot account").click()
    expect(admin.get_by_role("heading", name="Robot account created")).to_be_visible()
    name = admin.get_by_role("textbox", name="Name").input_value()
    secret = admin.get_by_role("textbox", name="Secret").input_value()
    assert name == f"robot${PROJECT}+ci"
    admin.screenshot(path=shots / "robot-created.png")
    toolbox = Toolbox(tmp_path / "tools")
    try:
        inspected = toolbox.run(
            [
                "skopeo",
                "inspect",
                "--raw",
                "--tls-verify=false",
                "--creds",
                f"{name}:{secret}",
                f"docker://{berth.host}/{REPOSITORY}:1.0",
            ]
        )
    finally:
        toolbox.close()
    assert b"schemaVersion" in inspected.stdout
    admin.goto(f"/projects/{PROJECT}/robots")
    expect(admin.get_by_role("cell", name=name, exact=True)).to_be_visible()


@pytest.fixture(scope="module")
def guest_context(browser: Browser, berth: Registry) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, base_url=berth.url)
    yield context
    context.close()


def test_a_guest_sees_the_project_but_no_delete_and_cannot_forge_one(
    guest_context: BrowserContext, berth: Registry, shots: Path
) -> None:
    page = guest_context.new_page()
    log_in(page, GUEST, GUEST_PASSWORD)
    page.wait_for_url("**/projects")
    row = page.get_by_role("row", name=re.compile(PROJECT))
    expect(row.get_by_text("guest")).to_be_visible()
    # Administration is not offered, and not served.
    expect(page.get_by_role("link", name="Garbage collection")).to_have_count(0)
    assert page.goto("/admin/gc").status == 403  # type: ignore[union-attr]

    page.goto(f"/projects/{PROJECT}/repositories")
    tabs = page.get_by_role("navigation", name="Project")
    expect(tabs.get_by_role("link", name="Members")).to_be_visible()
    expect(tabs.get_by_role("link", name="Tag immutability")).to_have_count(0)
    assert page.goto(f"/projects/{PROJECT}/immutability").status == 403  # type: ignore[union-attr]

    page.goto(f"/projects/{PROJECT}/repositories/web/app")
    card = page.get_by_role("article")
    expect(card.locator(".tag", has_text="1.0")).to_be_visible()
    expect(card.get_by_role("button", name="Delete")).to_have_count(0)
    expect(card.get_by_role("button", name="Add tag")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete repository")).to_have_count(0)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"
    page.screenshot(path=shots / "repository-guest-phone.png", full_page=True)

    digest = card.get_by_role("heading").inner_text()
    token = page.locator("input[name=csrf_token]").first.input_value()
    base = f"/projects/{PROJECT}/repositories/web/app/artifacts/{digest}"
    forged = page.request.post(f"{base}/delete", form={"csrf_token": token})
    assert forged.status == 403, forged.text()
    forged_tag = page.request.post(f"{base}/tags/1.0/delete", form={"csrf_token": token})
    assert forged_tag.status == 403, forged_tag.text()
    # Without the session's CSRF token even an allowed form is refused.
    no_token = page.request.post(f"{base}/copy", form={"target": f"{PROJECT}/other"})
    assert no_token.status == 403, no_token.text()
    with berth.client() as client:
        still = client.head(f"/v2/{REPOSITORY}/manifests/1.0", headers={"Accept": OCI_MANIFEST})
        assert still.status_code == 200, "the guest's forged delete removed the artifact"


def test_admin_deletes_and_garbage_collection_finishes_on_the_page(
    admin: Page, berth: Registry, tmp_path: Path, shots: Path
) -> None:
    push_image(berth, tmp_path, f"{PROJECT}/scratch", "tmp")
    admin.goto(f"/projects/{PROJECT}/repositories/scratch")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("article").get_by_role("button", name="Delete").click()
    expect(admin.get_by_role("status")).to_contain_text("deleted.")
    expect(admin.get_by_role("article")).to_have_count(0)

    admin.goto("/admin/gc")
    admin.get_by_role("button", name="Run GC now").click()
    admin.wait_for_url("**/admin/gc?notice=**")
    loads: list[str] = []
    admin.on("load", lambda page: loads.append(page.url))
    newest = admin.locator("tbody tr").first
    # The row refreshes itself (htmx) until the run is over: no reload of the page.
    expect(newest).to_have_attribute("data-status", "Success", timeout=60_000)
    assert loads == [], f"the page reloaded: {loads}"
    expect(newest).to_contain_text(re.compile(r"freed .+ \([1-9]\d* bytes\)"))
    admin.screenshot(path=shots / "gc.png", full_page=True)

    admin.get_by_role("button", name="Dry run").click()
    admin.wait_for_url("**/admin/gc?notice=Dry**")
    expect(admin.locator("tbody tr").first).to_have_attribute(
        "data-status", "Success", timeout=60_000
    )
    expect(admin.locator("tbody tr").first).to_contain_text("would free")

    admin.get_by_label("Schedule", exact=True).select_option("Daily")
    admin.get_by_role("button", name="Save schedule").click()
    expect(admin.get_by_role("status")).to_have_text("Schedule saved.")
    expect(admin.get_by_text("Next run:")).to_be_visible()


def test_dashboard_and_admin_pages_render(admin: Page, berth: Registry, shots: Path) -> None:
    admin.goto("/dashboard")
    expect(admin.get_by_role("img", name="Storage per project")).to_be_visible()
    expect(admin.get_by_role("img", name=re.compile("Pushes and pulls per day"))).to_be_visible()
    expect(admin.get_by_role("link", name="library/app-copy")).to_be_visible()
    pushes = admin.locator(".stat", has_text="Pushes").locator(".stat-value").inner_text()
    assert int(pushes) >= 3, f"the dashboard counts {pushes} pushes"
    admin.screenshot(path=shots / "dashboard.png", full_page=True)
    admin.goto("/admin/configuration")
    expect(admin.get_by_label("Auth mode")).to_have_value("db_auth")
    admin.get_by_label("LDAP URL").fill("ldap://127.0.0.1:9")
    admin.get_by_role("button", name="Test LDAP").click()
    expect(admin.locator("#ldap-test-result")).to_contain_text("LDAP test:")
    admin.screenshot(path=shots / "configuration.png", full_page=True)
    admin.get_by_label("Token expiry (minutes)").fill("45")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_have_text("Configuration saved.")
    with httpx.Client(base_url=berth.url, auth=(berth.username, berth.password)) as api:
        stored = api.get("/api/v2.0/configurations").json()
        assert stored["token_expiration"]["value"] == 45
    admin.goto("/admin/groups")
    admin.get_by_label("Group name").fill("devs")
    admin.get_by_label("LDAP group DN").fill("cn=devs,ou=groups,dc=example,dc=com")
    admin.get_by_role("button", name="Add group").click()
    expect(admin.get_by_role("status")).to_have_text("Group added.")
    expect(admin.get_by_role("row", name=re.compile("devs.*LDAP"))).to_be_visible()
    admin.goto("/admin/purge-audit")
    admin.get_by_role("button", name="Dry run").click()
    admin.wait_for_url("**/admin/purge-audit?notice=Dry**")
    expect(admin.locator("tbody tr").first).to_have_attribute(
        "data-status", "Success", timeout=60_000
    )
    admin.goto("/admin/jobs")
    expect(admin.get_by_role("cell", name="GARBAGE_COLLECTION").first).to_be_visible()
    expect(admin.get_by_role("cell", name="PURGE_AUDIT_LOG").first).to_be_visible()


def test_log_out_ends_the_session(admin: Page, berth: Registry) -> None:
    admin.goto("/projects")
    admin.get_by_role("button", name="Log out").click()
    expect(admin.get_by_role("button", name="Log in")).to_be_visible()
    admin.goto("/projects")
    expect(admin.get_by_label("Username")).to_be_visible()  # sent back to the login page
    # Harbor's logout path is accepted too.
    assert httpx.get(f"{berth.url}/c/log_out").status_code == 200


def test_metrics_are_scraped_after_the_journeys(berth: Registry, metrics_port: int) -> None:
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30)
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    text = scraped.text
    # With a metrics port, the main port keeps /metrics to itself and that one serves only it.
    assert httpx.get(f"{berth.url}/metrics").status_code == 404
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/projects").status_code == 404

    def value(pattern: str) -> float:
        found = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
        assert found, f"no sample matching {pattern} in:\n{text[:4000]}"
        return float(found.group(1))

    assert value(r'berth_http_requests_total\{method="GET",route="/projects",status="200"\}') >= 1
    assert (
        value(r'berth_http_request_duration_seconds_count\{method="POST",route="/",status="401"\}')
        >= 2
    )
    assert value(r'berth_registry_bytes_total\{direction="upload"\}') > 0
    assert value(r'berth_tokens_total\{outcome="issued"\}') >= 1
    # Recorded in the job worker's process, aggregated by the server's.
    assert value(r'berth_jobs_total\{kind="GARBAGE_COLLECTION",status="Success"\}') >= 2
    assert (
        value(r'berth_job_duration_seconds_count\{kind="GARBAGE_COLLECTION",status="Success"\}')
        >= 2
    )
    assert value("berth_gc_freed_bytes_total") > 0
    assert value("berth_projects") == 2
    assert value("berth_repositories") >= 1
    assert value(f'berth_project_quota_limit_bytes\\{{project="{PROJECT}"\\}}') == 1024**3
    assert value('berth_project_quota_usage_bytes\\{project="library"\\}') > 0
