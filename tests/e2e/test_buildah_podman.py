"""buildah builds and pushes an image; podman logs in, pulls it and logs out; anonymous pulls
of the public ``library`` project work and anonymous pushes do not."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e._http import MANIFEST_ACCEPT, describe, expect
from tests.e2e._servers import Registry
from tests.e2e._tools import Outcome, Toolbox

pytestmark = pytest.mark.e2e

# podman has no systemd to talk to here.
PODMAN_GLOBALS = ["--cgroup-manager", "cgroupfs", "--events-backend", "file"]
AUTH_REFUSED = re.compile(r"unauthorized|authentication required|401", re.IGNORECASE)


def _build_and_push(registry: Registry, toolbox: Toolbox, reference: str) -> str:
    """buildah from scratch + copy + commit + push; returns the digest buildah pushed."""
    buildah = ["buildah", *toolbox.storage("buildah")]
    container = toolbox.run([*buildah, "from", "scratch"]).text.strip()
    payload = toolbox.root / "hello.txt"
    payload.write_text(f"hello from the berth e2e suite, {reference}\n")
    toolbox.run([*buildah, "copy", container, str(payload), "/hello.txt"])
    toolbox.run([*buildah, "config", "--cmd", "/hello.txt", "--label", "e2e=1", container])
    toolbox.run([*buildah, "commit", "--quiet", container, "localhost/e2e-buildah:latest"])
    digest_file = toolbox.root / "pushed-digest"
    toolbox.run(
        [
            *buildah,
            "push",
            "--tls-verify=false",
            "--creds",
            registry.creds,
            "--digestfile",
            str(digest_file),
            "localhost/e2e-buildah:latest",
            f"docker://{reference}",
        ]
    )
    return digest_file.read_text().strip()


def _registry_digest(registry: Registry, repository: str, tag: str) -> str:
    with registry.client() as client:
        head = expect(
            client.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT}),
            200,
        )
    digest = head.headers.get("docker-content-digest")
    assert digest, describe(head)
    return str(digest)


def _podman(toolbox: Toolbox, store: str) -> list[str]:
    return ["podman", *toolbox.storage(store), *PODMAN_GLOBALS]


def test_buildah_push_then_podman_login_pull_logout(registry: Registry, toolbox: Toolbox) -> None:
    reference = f"{registry.host}/library/e2e-buildah:1"
    pushed = _build_and_push(registry, toolbox, reference)
    served = _registry_digest(registry, "library/e2e-buildah", "1")
    assert served == pushed, f"registry serves {served}, buildah pushed {pushed}"

    podman = _podman(toolbox, "podman")
    authfile = toolbox.root / "podman-auth.json"
    toolbox.run(
        [
            *podman,
            "login",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            "--username",
            registry.username,
            "--password-stdin",
            registry.host,
        ],
        input_text=registry.password,
    )
    assert registry.host in json.loads(authfile.read_text())["auths"]

    toolbox.run([*podman, "pull", "--tls-verify=false", "--authfile", str(authfile), reference])
    local = toolbox.run(
        [*podman, "image", "inspect", "--format", "{{.Digest}}", reference]
    ).text.strip()
    assert local == served, f"podman pulled {local}, registry serves {served}"

    toolbox.run([*podman, "logout", "--authfile", str(authfile), registry.host])
    assert registry.host not in json.loads(authfile.read_text()).get("auths", {})


def _check_anonymous_pull(registry: Registry, outcome: Outcome) -> None:
    if registry.anonymous_pull:
        assert outcome.returncode == 0, outcome.explain()
    else:
        assert outcome.returncode != 0, outcome.explain()
        assert AUTH_REFUSED.search(outcome.stderr), outcome.explain()


def test_anonymous_pull_of_public_library(registry: Registry, toolbox: Toolbox) -> None:
    reference = f"{registry.host}/library/e2e-anon-pull:1"
    pushed = _build_and_push(registry, toolbox, reference)

    # Raw HTTP without any Authorization header.
    with registry.client(anonymous=True) as client:
        response = client.get(
            "/v2/library/e2e-anon-pull/manifests/1", headers={"Accept": MANIFEST_ACCEPT}
        )
    if registry.anonymous_pull:
        expect(response, 200)
        assert response.headers.get("docker-content-digest") == pushed, describe(response)
    else:
        expect(response, 401)

    # The container tools with no credentials configured. Answering a Basic challenge, they
    # send "Authorization: Basic Og==" (empty user and password), which is still anonymous.
    inspected = toolbox.run(
        ["skopeo", "inspect", "--raw", "--no-creds", "--tls-verify=false", f"docker://{reference}"],
        check=False,
    )
    _check_anonymous_pull(registry, inspected)

    empty_auth = toolbox.root / "no-credentials.json"
    empty_auth.write_text('{"auths": {}}')
    podman = _podman(toolbox, "anonymous")
    pulled = toolbox.run(
        [*podman, "pull", "--tls-verify=false", "--authfile", str(empty_auth), reference],
        check=False,
    )
    _check_anonymous_pull(registry, pulled)
    if registry.anonymous_pull:
        local = toolbox.run(
            [*podman, "image", "inspect", "--format", "{{.Digest}}", reference]
        ).text.strip()
        assert local == pushed


def test_push_without_credentials_is_refused(registry: Registry, toolbox: Toolbox) -> None:
    buildah = ["buildah", *toolbox.storage("buildah")]
    container = toolbox.run([*buildah, "from", "scratch"]).text.strip()
    payload = toolbox.root / "anon.txt"
    payload.write_text("nobody may push this\n")
    toolbox.run([*buildah, "copy", container, str(payload), "/anon.txt"])
    toolbox.run([*buildah, "commit", "--quiet", container, "localhost/e2e-anon:latest"])
    empty_auth = toolbox.root / "no-credentials.json"
    empty_auth.write_text('{"auths": {}}')

    pushed = toolbox.run(
        [
            *buildah,
            "push",
            "--tls-verify=false",
            "--authfile",
            str(empty_auth),
            "localhost/e2e-anon:latest",
            f"docker://{registry.host}/library/e2e-anon-push:1",
        ],
        check=False,
    )
    assert pushed.returncode != 0, pushed.explain()
    assert AUTH_REFUSED.search(pushed.stderr), pushed.explain()

    with registry.client() as client:
        response = client.head(
            "/v2/library/e2e-anon-push/manifests/1", headers={"Accept": MANIFEST_ACCEPT}
        )
    expect(response, 404)
