"""Helm charts as OCI artifacts, driven by the real helm 3 and helm 4 clients: ``helm registry
login``, ``helm push``, ``helm pull``, ``helm show``, ``helm template oci://…``, an anonymous
pull from a public project, and a robot account's login and push to a private one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e._helm import Helm
from tests.e2e._servers import Registry

pytestmark = pytest.mark.e2e


def _api(registry: Registry) -> httpx.Client:
    return httpx.Client(
        base_url=f"{registry.url}/api/v2.0", auth=(registry.username, registry.password), timeout=60
    )


def _package(helm: Helm, name: str, version: str) -> Path:
    helm.run("create", name)
    chart_yaml = helm.root / name / "Chart.yaml"
    text = chart_yaml.read_text().replace("version: 0.1.0", f"version: {version}")
    chart_yaml.write_text(text)
    (helm.root / name / "README.md").write_text(f"# {name}\n")
    helm.run("package", name, "--destination", str(helm.root / "dist"))
    return helm.root / "dist" / f"{name}-{version}.tgz"


def test_push_pull_show_template_with_helm(helm: Helm, registry: Registry) -> None:
    name = f"ocidemo{helm.major}"
    archive = _package(helm, name, "1.2.3+build.7")
    login = helm.run(
        "registry",
        "login",
        registry.host,
        *helm.plain_http,
        "--username",
        registry.username,
        "--password-stdin",
        input_text=registry.password,
    )
    assert "Login Succeeded" in login.stdout + login.stderr
    pushed = helm.run("push", str(archive), f"oci://{registry.host}/library", "--plain-http")
    assert f"{registry.host}/library/{name}:1.2.3_build.7" in pushed.stdout + pushed.stderr
    assert "Digest: sha256:" in pushed.stdout + pushed.stderr

    pulled_dir = helm.root / "pulled"
    pulled_dir.mkdir()
    helm.run(
        "pull",
        f"oci://{registry.host}/library/{name}",
        "--version",
        "1.2.3+build.7",
        "--plain-http",
        "--destination",
        str(pulled_dir),
    )
    pulled = pulled_dir / archive.name
    assert pulled.read_bytes() == archive.read_bytes()

    shown = helm.run("show", "chart", f"oci://{registry.host}/library/{name}", "--plain-http")
    assert f"name: {name}" in shown.stdout
    assert "version: 1.2.3+build.7" in shown.stdout
    readme = helm.run("show", "readme", f"oci://{registry.host}/library/{name}", "--plain-http")
    assert f"# {name}" in readme.stdout

    rendered = helm.run("template", "web", f"oci://{registry.host}/library/{name}", "--plain-http")
    assert "kind: Deployment" in rendered.stdout
    assert f"name: web-{name}" in rendered.stdout

    # The Harbor artifact API types it a chart and serves its additions.
    with _api(registry) as api:
        base = f"/projects/library/repositories/{name}/artifacts/1.2.3_build.7"
        artifact = api.get(base, params={"with_tag": "true"}).json()
        assert artifact["type"] == "CHART"
        assert artifact["tags"][0]["name"] == "1.2.3_build.7"
        readme_addition = api.get(f"{base}/additions/readme.md")
        assert readme_addition.status_code == 200, readme_addition.text
        assert readme_addition.text == f"# {name}\n"
        values = api.get(f"{base}/additions/values.yaml")
        assert values.status_code == 200
        assert "replicaCount: 1" in values.text
        assert api.get(f"{base}/additions/dependencies").json() == []

    # Anyone may pull from the public library project, with no login at all.
    helm.run("registry", "logout", registry.host)
    (helm.root / "anonymous").mkdir()
    anonymous = helm.run(
        "pull",
        f"oci://{registry.host}/library/{name}",
        "--version",
        "1.2.3+build.7",
        "--plain-http",
        "--destination",
        str(helm.root / "anonymous"),
    )
    assert anonymous.returncode == 0
    assert (helm.root / "anonymous" / archive.name).read_bytes() == archive.read_bytes()


def test_a_robot_logs_in_pushes_and_pulls_a_private_chart(helm: Helm, registry: Registry) -> None:
    project = f"charts-robot-{helm.major}"
    with _api(registry) as api:
        r = api.post("/projects", json={"project_name": project, "metadata": {"public": "false"}})
        assert r.status_code == 201, r.text
        r = api.post(
            "/robots",
            json={
                "name": f"helm{helm.major}",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": project,
                        "access": [
                            {"resource": "repository", "action": "pull"},
                            {"resource": "repository", "action": "push"},
                        ],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        robot = r.json()
    archive = _package(helm, "private", "0.3.0")

    # Pulling a private chart without a login is refused.
    refused = helm.run(
        "pull", f"oci://{registry.host}/{project}/private", "--plain-http", check=False
    )
    assert refused.returncode != 0

    helm.run(
        "registry",
        "login",
        registry.host,
        *helm.plain_http,
        "--username",
        robot["name"],
        "--password-stdin",
        input_text=robot["secret"],
    )
    helm.run("push", str(archive), f"oci://{registry.host}/{project}", "--plain-http")
    shown = helm.run("show", "chart", f"oci://{registry.host}/{project}/private", "--plain-http")
    assert "version: 0.3.0" in shown.stdout
    assert "name: private" in shown.stdout
