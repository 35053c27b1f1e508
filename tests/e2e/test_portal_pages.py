"""The portal's pages for scanning, signatures, SBOMs and chart repositories, in a real
browser (Chromium through Playwright) against a ``berth serve`` whose built-in scanner has
the OSV fixture imported: an image scanned from its page with live progress and its CVE list,
a cosign signature and a generated SBOM shown and downloaded, a chart uploaded, read and
deleted from the Charts tab; a guest sees none of the buttons and is refused when posting.
Administration: a Distribution registered with credentials and its connection tested, a
replication to it whose failing task is retried once the remote answers again, the default
scanner changed, and scan-all watched to the end.

The tests build on each other (one server, one browser), in file order.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, Page, expect

from tests.e2e._browser import artifacts_dir, chromium, signed_in_page
from tests.e2e._jobs import state_dir
from tests.e2e._oci import OCI_MANIFEST, sha256, write_layout
from tests.e2e._servers import Registry, start_berth, start_distribution
from tests.e2e._tools import Toolbox
from tests.e2e.test_portal import push_image
from tests.e2e.test_replication import FlakyFront
from tests.e2e.test_scanning import _push, _simple_signing, _with_osv
from tests.fixtures.images import debian_image

pytestmark = pytest.mark.e2e

PROJECT = "portal-scan"
GUEST = "gil"
GUEST_PASSWORD = "Guest-Passw0rd"


@pytest.fixture(scope="module")
def berth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with state_dir("portal-pages") as root:
        password = "Portal-" + secrets.token_urlsafe(10)
        server, host = start_berth(root / "data", password=password, name="berth-portal-pages")
        try:
            yield _with_osv(
                Registry("berth", host, "admin", password, [server]),
                root / "data",
                tmp_path_factory,
            )
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
    path = artifacts_dir(tmp_path_factory.mktemp("portal-pages-screenshots"))
    print(f"\nportal screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def admin(browser: Browser, berth: Registry) -> Iterator[Page]:
    with signed_in_page(browser, berth.url, berth.username, berth.password) as page:
        yield page


@pytest.fixture(scope="module")
def guest(browser: Browser, berth: Registry, api: httpx.Client) -> Iterator[Page]:
    created = api.post(
        "/users",
        json={
            "username": GUEST,
            "email": f"{GUEST}@example.com",
            "realname": "Gil",
            "password": GUEST_PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    member = api.post(
        f"/projects/{PROJECT}/members",
        json={"role_id": 3, "member_user": {"username": GUEST}},
    )
    assert member.status_code == 201, member.text
    with signed_in_page(browser, berth.url, GUEST, GUEST_PASSWORD) as page:
        yield page


def _artifact_path(repository: str, digest: str) -> str:
    return f"/projects/{PROJECT}/repositories/{repository}/artifacts/{digest}"


def chart_tgz(name: str, version: str) -> bytes:
    files = {
        "Chart.yaml": (
            f"apiVersion: v2\nname: {name}\nversion: {version}\n"
            f"description: The {name} chart\nappVersion: '1.25'\n"
        ).encode(),
        "values.yaml": b"replicaCount: 2\nimage:\n  repository: nginx\n  tag: stable\n",
        "templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def provenance(archive: Path, home: Path) -> bytes:
    """A provenance file for ``archive``: its Chart.yaml and sha256, clear-signed with a new
    GnuPG key, as ``helm package --sign`` writes it."""
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    signer = "Berth Portal Signer <portal@berth.example>"
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", signer, "rsa2048", "sign"],
        env=env,
        check=True,
        capture_output=True,
    )
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{archive.name.rsplit('-', 1)[0]}/Chart.yaml")
        assert member is not None
        chart_yaml = member.read().decode()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    message = f"{chart_yaml}\n...\nfiles:\n  {archive.name}: sha256:{digest}\n"
    try:
        return subprocess.run(
            ["gpg", "--batch", "--clearsign", "--local-user", signer],
            input=message.encode(),
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    finally:
        # The agent gpg started for this home is not left running.
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)


def test_an_image_is_scanned_from_its_page_and_shows_its_cves(
    admin: Page, berth: Registry, api: httpx.Client, tmp_path: Path, shots: Path
) -> None:
    created = api.post("/projects", json={"project_name": PROJECT, "metadata": {}})
    assert created.status_code == 201, created.text
    crafted = debian_image()
    toolbox = Toolbox(tmp_path / "tools")
    try:
        _push(toolbox, berth, crafted, tmp_path, f"{PROJECT}/app", "1.0")
        key = ec.generate_private_key(ec.SECP256R1())
        manifest, blobs = _simple_signing(key, f"{berth.host}/{PROJECT}/app", crafted.digest)
        tag = "sha256-" + crafted.digest.removeprefix("sha256:") + ".sig"
        layout = tmp_path / "signature"
        write_layout(layout, {**blobs, sha256(manifest): manifest}, manifest, OCI_MANIFEST, tag)
        toolbox.run(
            [
                "skopeo",
                "copy",
                "--preserve-digests",
                "--dest-creds",
                berth.creds,
                "--dest-tls-verify=false",
                f"oci:{layout}:{tag}",
                f"docker://{berth.host}/{PROJECT}/app:{tag}",
            ]
        )
    finally:
        toolbox.close()

    admin.goto(f"/projects/{PROJECT}/repositories/app")
    admin.get_by_role("link", name=crafted.digest).click()
    expect(admin.get_by_role("heading", name=crafted.digest)).to_be_visible()
    vulnerabilities = admin.locator("#vulnerabilities")
    expect(vulnerabilities).to_contain_text("Not scanned yet.")
    expect(admin.locator("#signed")).to_have_text("Signed")
    accessories = admin.get_by_role("table").filter(has_text="signature.cosign")
    expect(accessories).to_be_visible()
    history = admin.get_by_role("region", name=re.compile("Build history"))
    expect(history.get_by_role("row")).to_have_count(3)
    expect(history).to_contain_text("crafted")
    expect(admin.get_by_role("textbox", name="docker pull")).to_have_value(
        f"docker pull {berth.host}/{PROJECT}/app:1.0"
    )

    admin.get_by_role("button", name="Scan", exact=True).click()
    expect(admin.get_by_text("Scan started.")).to_be_visible()
    # The panel polls while the scan runs, then shows the report without a reload.
    expect(vulnerabilities).to_have_attribute("data-status", "Success", timeout=60_000)
    expect(admin.locator("#vulnerability-total")).to_have_text("4 vulnerabilities, 3 fixable")
    counts = admin.get_by_role("list", name="Vulnerabilities by severity")
    expect(counts.get_by_role("listitem")).to_have_text(
        ["Critical: 1", "High: 1", "Medium: 1", "Low: 1"]
    )
    cves = admin.get_by_role("table", name="CVE list")
    rows = cves.locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("DEBIAN-CVE-2023-0001")
    expect(rows.nth(0)).to_contain_text("libssl3")
    expect(rows.nth(0)).to_contain_text("3.0.11-1~deb12u2")
    expect(rows.nth(1)).to_contain_text("GHSA-35jh-r3h4-6jhm")
    admin.screenshot(path=shots / "artifact-scanned.png", full_page=True)


def test_an_sbom_is_generated_and_downloaded(admin: Page, berth: Registry) -> None:
    admin.get_by_role("button", name="Generate SBOM").click()
    expect(admin.get_by_text("SBOM generation started.")).to_be_visible()
    link = admin.get_by_role("link", name="Download SBOM")
    for _ in range(60):
        if link.count():
            break
        admin.wait_for_timeout(500)
        admin.reload()
    with admin.expect_download() as download:
        link.click()
    document = json.loads(Path(download.value.path()).read_text())
    assert document["spdxVersion"].startswith("SPDX-")
    names = {p["name"] for p in document["packages"]}
    assert {"libssl3", "lodash"} <= names
    expect(admin.get_by_role("table").filter(has_text="harbor.sbom")).to_be_visible()


def test_a_chart_is_uploaded_read_and_deleted_on_the_charts_tab(
    admin: Page, berth: Registry, tmp_path: Path, shots: Path
) -> None:
    archive = tmp_path / "web-0.3.0.tgz"
    archive.write_bytes(chart_tgz("web", "0.3.0"))
    admin.goto(f"/projects/{PROJECT}/repositories")
    admin.get_by_role("link", name="Charts").click()
    expect(admin.get_by_role("textbox", name="helm repo add")).to_have_value(
        f"helm repo add {PROJECT} {berth.url}/chartrepo/{PROJECT}"
    )
    expect(admin.get_by_text("holds no charts")).to_be_visible()
    prov = tmp_path / "web-0.3.0.tgz.prov"
    prov.write_bytes(provenance(archive, tmp_path / "gnupg"))
    admin.get_by_label("Chart archive (.tgz)").set_input_files(archive)
    admin.get_by_label("Provenance file (.prov, optional)").set_input_files(prov)
    admin.get_by_role("button", name="Upload").click()
    expect(admin.get_by_text("Chart web 0.3.0 uploaded.")).to_be_visible()
    versions = admin.get_by_role("table", name="Versions of web")
    expect(versions).to_contain_text("The web chart")
    admin.screenshot(path=shots / "charts.png", full_page=True)

    again = admin.get_by_label("Chart archive (.tgz)")
    again.set_input_files(archive)
    admin.get_by_role("button", name="Upload").click()
    expect(admin.get_by_role("alert")).to_contain_text("already exists")

    admin.get_by_role("link", name="0.3.0").click()
    values = admin.get_by_role("table", name="Values")
    expect(values.get_by_role("row", name="image.tag stable")).to_be_visible()
    expect(values.get_by_role("row", name="replicaCount 2")).to_be_visible()
    expect(admin.get_by_text("web-0.3.0.tgz.prov")).to_be_visible()

    # The chart is an OCI artifact too: its page shows the helm pull command.
    admin.goto(f"/projects/{PROJECT}/repositories/web")
    admin.locator("h3.digest a").first.click()
    expect(admin.get_by_role("textbox", name="helm pull")).to_have_value(
        f"helm pull oci://{berth.host}/{PROJECT}/web --version 0.3.0"
    )


def test_a_guest_sees_no_scan_upload_or_delete_and_is_refused_when_posting(
    guest: Page, berth: Registry
) -> None:
    digest = debian_image().digest
    guest.goto(_artifact_path("app", digest))
    expect(guest.locator("#vulnerabilities")).to_have_attribute("data-status", "Success")
    expect(guest.get_by_role("table", name="CVE list").locator("tbody tr")).to_have_count(4)
    expect(guest.get_by_role("button", name="Scan", exact=True)).to_have_count(0)
    expect(guest.get_by_role("button", name="Generate SBOM")).to_have_count(0)

    guest.goto(f"/projects/{PROJECT}/charts")
    expect(guest.get_by_role("table", name="Versions of web")).to_be_visible()
    expect(guest.get_by_role("button", name="Upload")).to_have_count(0)
    expect(guest.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)

    csrf = guest.locator("input[name=csrf_token]").first
    token = csrf.get_attribute("value") if csrf.count() else None
    if token is None:
        guest.goto(f"/projects/{PROJECT}/members")
        token = guest.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    form: dict[str, str | float | bool] = {"csrf_token": token}
    for path in (
        _artifact_path("app", digest) + "/scan",
        _artifact_path("app", digest) + "/sbom",
        f"/projects/{PROJECT}/charts/web/versions/0.3.0/delete",
    ):
        response = guest.request.post(path, form=form, max_redirects=0)
        assert response.status == 403, (path, response.status, response.text())
    upload = guest.request.post(
        f"/projects/{PROJECT}/charts/upload",
        multipart={
            "csrf_token": token,
            "chart": {
                "name": "evil-0.1.0.tgz",
                "mimeType": "application/gzip",
                "buffer": chart_tgz("evil", "0.1.0"),
            },
        },
        max_redirects=0,
    )
    assert upload.status == 403, upload.text()
    guest.goto(f"/projects/{PROJECT}/charts")
    expect(guest.get_by_role("table", name="Versions of web")).to_be_visible()
    expect(guest.get_by_text("evil")).to_have_count(0)


def test_a_maintainer_action_deletes_the_chart_version(admin: Page) -> None:
    admin.goto(f"/projects/{PROJECT}/charts")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Delete web 0.3.0").click()
    expect(admin.get_by_text("Chart web 0.3.0 deleted.")).to_be_visible()
    expect(admin.get_by_text("holds no charts")).to_be_visible()


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FlakyFront]]:
    """A Distribution with htpasswd credentials, reached through a front that fails the
    repositories named ``failing`` until told otherwise."""
    with state_dir("portal-pages-remote") as root:
        server, host = start_distribution(
            root / "dist", username="mirror", password=REMOTE_PASSWORD, name="portal-remote"
        )
        front = FlakyFront(f"http://{host}", "failing")
        try:
            yield f"http://{host}", front
        finally:
            front.close()
            server.stop()


REMOTE_PASSWORD = "Mirror-Passw0rd"


def test_admin_registers_a_registry_and_tests_its_connection(
    admin: Page, remote: tuple[str, FlakyFront], shots: Path
) -> None:
    _, front = remote
    admin.goto("/projects")
    admin.get_by_role("link", name="Registries").click()
    admin.get_by_text("New registry").click()
    admin.get_by_label("Provider").select_option("docker-registry")
    admin.get_by_label("Name", exact=True).fill("mirror")
    admin.get_by_label("Endpoint URL").fill(front.url)
    admin.get_by_label("Access ID").fill("mirror")
    admin.get_by_label("Access secret").fill("not-the-password")
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("alert")).to_contain_text("failed to ping the registry")
    admin.get_by_label("Access secret").fill(REMOTE_PASSWORD)
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_text(f"Connection to {front.url} succeeded.")).to_be_visible()
    admin.get_by_label("Access secret").fill(REMOTE_PASSWORD)
    admin.get_by_role("button", name="Create registry").click()
    expect(admin.get_by_text("Registry mirror created.")).to_be_visible()
    row = admin.get_by_role("row").filter(has_text=front.url)
    expect(row).to_contain_text("docker-registry")
    # The secret is never shown again.
    expect(admin.locator("body")).not_to_contain_text(REMOTE_PASSWORD)
    row.get_by_role("button", name="Test connection to mirror").click()
    expect(admin.get_by_text("Connection to mirror succeeded.")).to_be_visible()
    expect(admin.get_by_role("row").filter(has_text=front.url)).to_contain_text("healthy")
    admin.screenshot(path=shots / "registries.png", full_page=True)


def test_a_replication_runs_live_and_its_failed_task_is_retried(
    admin: Page, berth: Registry, remote: tuple[str, FlakyFront], tmp_path: Path, shots: Path
) -> None:
    _, front = remote
    push_image(berth, tmp_path, f"{PROJECT}/failing", "v1")
    admin.get_by_role("link", name="Replications").click()
    admin.get_by_text("New replication rule").click()
    admin.get_by_label("Name", exact=True).fill("to-mirror")
    admin.get_by_label("Remote registry").select_option(label=f"mirror ({front.url})")
    admin.get_by_label("Source resource filter: name").fill(f"{PROJECT}/**")
    admin.get_by_label("Source resource filter: tag").fill("v1")
    admin.get_by_role("button", name="Save rule").click()
    expect(admin.get_by_text("Policy to-mirror created.")).to_be_visible()
    admin.get_by_role("button", name="Replicate to-mirror").click()
    expect(admin.get_by_text(re.compile(r"Execution #\d+ of to-mirror started."))).to_be_visible()
    execution = admin.locator("tr[id^=execution-]").first
    # The row polls while the execution runs: it ends failed, without a reload.
    expect(execution).to_have_attribute("data-status", "Failed", timeout=90_000)
    execution.get_by_role("link").click()
    failed = admin.locator("tbody tr[data-status=Failed]")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text(f"{PROJECT}/failing")
    log_url = failed.get_by_role("link", name=re.compile("Log of")).get_attribute("href")
    assert log_url
    log = admin.request.get(log_url)
    assert log.status == 200
    assert "503" in log.text(), log.text()
    admin.screenshot(path=shots / "replication-failed.png", full_page=True)

    front.down = False
    admin.get_by_role("button", name="Retry failed").click()
    expect(admin.get_by_text("1 tasks retried.")).to_be_visible()
    expect(admin.locator("#execution-summary")).to_have_attribute(
        "data-status", "Succeed", timeout=90_000
    )
    expect(admin.locator("#execution-progress")).to_contain_text("1 of 1 succeeded, 0 failed")


def test_admin_changes_the_default_scanner_and_scans_all(
    admin: Page, api: httpx.Client, shots: Path
) -> None:
    added = api.post("/scanners", json={"name": "offline", "url": "http://127.0.0.1:9"})
    assert added.status_code == 201, added.text
    admin.get_by_role("link", name="Scanners").click()
    offline = admin.get_by_role("row").filter(has_text="offline")
    expect(offline).to_contain_text("unhealthy")
    builtin = admin.locator("tr[data-default=true]")
    expect(builtin).to_contain_text("healthy")
    builtin_name = builtin.locator("td").first.inner_text()
    offline.get_by_role("button", name="Set offline as default").click()
    expect(admin.get_by_text("offline is now the default scanner.")).to_be_visible()
    expect(admin.locator("tr[data-default=true]")).to_contain_text("offline")
    admin.get_by_role("button", name=f"Set {builtin_name} as default").click()
    expect(admin.locator("tr[data-default=true]")).to_contain_text(builtin_name)

    admin.get_by_role("button", name="Scan now").click()
    expect(admin.get_by_text(re.compile(r"Scan all #\d+ started."))).to_be_visible()
    panel = admin.locator("#scan-all")
    # The panel polls until every scan scan-all started has ended.
    expect(panel).to_have_attribute("data-running", "false", timeout=90_000)
    expect(admin.locator("#scan-all-status")).to_contain_text("Success")
    progress = admin.locator("#scan-all-progress")
    expect(progress).to_have_text(re.compile(r"^(\d+) of \1 scans completed$"))
    assert not progress.inner_text().startswith("0 ")
    admin.screenshot(path=shots / "scanners.png", full_page=True)


def test_a_guest_cannot_open_or_post_to_the_administration_pages(guest: Page) -> None:
    for path in ("/admin/registries", "/admin/replications", "/admin/scanners"):
        opened = guest.goto(path)
        assert opened is not None
        assert opened.status == 403, path
    token = guest.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    form: dict[str, str | float | bool] = {"csrf_token": token}
    for path in ("/admin/scanners/scan-all", "/admin/replications/1/run"):
        posted = guest.request.post(path, form=form, max_redirects=0)
        assert posted.status == 403, (path, posted.status)


def test_admin_deletes_a_rule_and_a_registry(
    admin: Page, api: httpx.Client, remote: tuple[str, FlakyFront]
) -> None:
    url, _ = remote
    made = api.post(
        "/registries",
        json={
            "name": "spare",
            "type": "docker-registry",
            "url": url,
            "credential": {"type": "basic", "access_key": "mirror", "access_secret": "x"},
        },
    )
    assert made.status_code == 201, made.text
    spare_id = int(made.headers["location"].rsplit("/", 1)[1])
    rule = api.post(
        "/replication/policies",
        json={"name": "unused", "dest_registry": {"id": spare_id}, "trigger": {"type": "manual"}},
    )
    assert rule.status_code == 201, rule.text
    admin.goto("/admin/replications")
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Delete rule unused").click()
    expect(admin.get_by_text("Policy unused deleted.")).to_be_visible()
    expect(admin.get_by_role("button", name="Delete rule unused")).to_have_count(0)
    admin.get_by_role("link", name="Registries").click()
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Delete registry spare").click()
    expect(admin.get_by_text("Registry spare deleted.")).to_be_visible()
    expect(admin.get_by_role("button", name="Delete registry spare")).to_have_count(0)
    expect(admin.get_by_role("button", name="Delete registry mirror")).to_be_visible()
