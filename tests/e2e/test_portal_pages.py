"""The portal's pages for scanning, signatures, SBOMs and chart repositories, in a real
browser (Chromium through Playwright) against a ``berth serve`` whose built-in scanner has
the OSV fixture imported: an image scanned from its page with live progress and its CVE list,
a cosign signature and a generated SBOM shown and downloaded, a chart uploaded, read and
deleted from the Charts tab; a guest sees none of the buttons and is refused when posting.

The tests build on each other (one server, one browser), in file order.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, Page, expect

from tests.e2e._browser import DESKTOP, artifacts_dir, chromium
from tests.e2e._jobs import state_dir
from tests.e2e._oci import OCI_MANIFEST, sha256, write_layout
from tests.e2e._servers import Registry, start_berth
from tests.e2e._tools import Toolbox
from tests.e2e.test_portal import log_in
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
    context = browser.new_context(viewport=DESKTOP, base_url=berth.url)
    page = context.new_page()
    log_in(page, berth.username, berth.password)
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    yield page
    context.close()


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
    context = browser.new_context(viewport=DESKTOP, base_url=berth.url)
    page = context.new_page()
    log_in(page, GUEST, GUEST_PASSWORD)
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    yield page
    context.close()


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
    admin.get_by_label("Chart archive (.tgz)").set_input_files(archive)
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
    expect(admin.get_by_text("No provenance file")).to_be_visible()

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
