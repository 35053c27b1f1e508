"""Berth behind nginx running deploy/nginx.conf, with both servers of ``berth_pair`` as its
upstream. Every client talks to nginx's port only: token realm, logins, pushes and pulls,
anonymous pulls, project roles and robot accounts, a 200 MiB layer streamed through in one
PATCH, and the file's commented TLS servers once enabled."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import platform
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e._http import (
    MANIFEST_ACCEPT,
    describe,
    expect,
    location_on,
    parse_challenge,
    with_query,
)
from tests.e2e._nginx import (
    DEPLOY_CONF,
    TLS_LISTEN,
    deploy_conf,
    directives,
    server_blocks,
    spooled_bytes,
    uncomment_tls_example,
    upstreams_in_log,
)
from tests.e2e._oci import OCI_MANIFEST, Image, build_image, write_layout
from tests.e2e._servers import Registry, RegistryPair, ServerProcess
from tests.e2e._tools import Outcome, Toolbox

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
# podman has no systemd to talk to here.
PODMAN_GLOBALS = ["--cgroup-manager", "cgroupfs", "--events-backend", "file"]
REFUSED = re.compile(
    r"unauthorized|authentication required|denied|forbidden|insufficient.scope",
    re.IGNORECASE,
)
BERTH_SERVICE = "berth-registry"
ARCHITECTURE = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "amd64")


# ---------------------------------------------------------------------------- helpers


def _image_layout(directory: Path, ref: str = "v1") -> tuple[Image, str]:
    """A one-layer OCI image written as a layout → (image, ``oci:`` source for skopeo)."""
    image = build_image(ARCHITECTURE, 1)
    blobs = {image.digest: image.manifest, **image.blobs}
    write_layout(directory, blobs, image.manifest, OCI_MANIFEST, ref)
    return image, f"oci:{directory}:{ref}"


def _skopeo_push(toolbox: Toolbox, source: str, reference: str, *auth: str) -> Outcome:
    return toolbox.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            *auth,
            source,
            f"docker://{reference}",
        ],
        check=False,
    )


def _podman(toolbox: Toolbox, store: str) -> list[str]:
    return ["podman", *toolbox.storage(store), *PODMAN_GLOBALS]


def _login(
    toolbox: Toolbox, tool: list[str], authfile: Path, host: str, user: str, pw: str
) -> None:
    toolbox.run(
        [
            *tool,
            "login",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            "--username",
            user,
            "--password-stdin",
            host,
        ],
        input_text=pw,
    )
    assert host in json.loads(authfile.read_text())["auths"], authfile.read_text()


def _podman_pull(toolbox: Toolbox, store: str, reference: str, authfile: Path) -> str:
    """podman pull → the digest of the image podman now has locally."""
    podman = _podman(toolbox, store)
    toolbox.run([*podman, "pull", "--tls-verify=false", "--authfile", str(authfile), reference])
    return toolbox.run(
        [*podman, "image", "inspect", "--format", "{{.Digest}}", reference]
    ).text.strip()


def _served_digest(front: Registry, repository: str, tag: str) -> str | None:
    """The digest nginx → Berth serves for ``repository:tag`` to the admin; None if absent."""
    with front.client() as client:
        head = expect(
            client.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT}),
            200,
            404,
        )
    return head.headers.get("docker-content-digest") if head.status_code == 200 else None


def _assert_refused(outcome: Outcome) -> None:
    assert outcome.returncode != 0, outcome.explain()
    assert REFUSED.search(outcome.stderr), outcome.explain()


def _backends(pair: RegistryPair) -> set[str]:
    return {pair.first.host, pair.second.host}


def _storage_root(server: ServerProcess) -> Path:
    """The storage directory the pair's servers share."""
    root = server.env.get("BERTH_STORAGE__FILESYSTEM__ROOT")
    if root is None:  # Distribution: its config file (JSON) is the last argument.
        config = json.loads(Path(server.argv[-1]).read_text())
        root = config["storage"]["filesystem"]["rootdirectory"]
    return Path(root)


def _largest_file(root: Path) -> int:
    largest = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                largest = max(largest, (Path(directory) / name).stat().st_size)
            except FileNotFoundError:  # an upload committed or a temp file renamed meanwhile
                continue
    return largest


# ---------------------------------------------------------------------------- a. login, push, pull


def test_login_push_pull_logout_through_nginx(
    nginx_front: Registry, berth_pair: RegistryPair, toolbox: Toolbox, tmp_path: Path
) -> None:
    front = nginx_front
    [nginx] = front.servers
    log_start = nginx.log_offset()

    with httpx.Client(base_url=front.url, timeout=30.0) as client:
        challenge = expect(client.get("/v2/"), 401)
    header = challenge.headers.get("www-authenticate", "")
    scheme, params = parse_challenge(header)
    if front.is_berth:
        # Berth built the realm from the Host nginx passed on: nginx's address, not its own.
        assert scheme == "bearer", describe(challenge)
        assert params.get("realm") == f"http://{front.host}/service/token", describe(challenge)
        assert params.get("service") == BERTH_SERVICE, describe(challenge)
    else:
        assert scheme == "basic", describe(challenge)
    for backend in _backends(berth_pair):
        assert backend not in header, describe(challenge)

    skopeo_auth = tmp_path / "skopeo-auth.json"
    _login(toolbox, ["skopeo"], skopeo_auth, front.host, front.username, front.password)
    image, source = _image_layout(tmp_path / "layout")
    reference = f"{front.host}/library/e2e-nginx:1"
    pushed = _skopeo_push(toolbox, source, reference, "--dest-authfile", str(skopeo_auth))
    assert pushed.returncode == 0, pushed.explain()
    assert _served_digest(front, "library/e2e-nginx", "1") == image.digest
    toolbox.run(["skopeo", "logout", "--authfile", str(skopeo_auth), front.host])
    assert front.host not in json.loads(skopeo_auth.read_text()).get("auths", {})

    podman_auth = tmp_path / "podman-auth.json"
    podman = _podman(toolbox, "podman")
    _login(toolbox, podman, podman_auth, front.host, front.username, front.password)
    local = _podman_pull(toolbox, "podman", reference, podman_auth)
    assert local == image.digest, f"podman pulled {local}, pushed {image.digest}"
    toolbox.run([*podman, "logout", "--authfile", str(podman_auth), front.host])
    assert front.host not in json.loads(podman_auth.read_text()).get("auths", {})

    # Round robin over the shared-state pair: both backends served this session.
    served_by = set(upstreams_in_log(nginx.log_since(log_start)))
    assert _backends(berth_pair) <= served_by, f"nginx used only {served_by}"


# ---------------------------------------------------------------------------- b. anonymous pull


def test_anonymous_pull_of_public_library_through_nginx(
    nginx_front: Registry, berth_pair: RegistryPair, toolbox: Toolbox, tmp_path: Path
) -> None:
    front = nginx_front
    image, source = _image_layout(tmp_path / "layout")
    reference = f"{front.host}/library/e2e-nginx-anon:1"
    pushed = _skopeo_push(toolbox, source, reference, "--dest-creds", front.creds)
    assert pushed.returncode == 0, pushed.explain()

    # No Authorization at all: an anonymous token from nginx's realm, or a refusal.
    with front.client(anonymous=True) as client:
        manifest = client.get(
            "/v2/library/e2e-nginx-anon/manifests/1", headers={"Accept": MANIFEST_ACCEPT}
        )
    empty_auth = tmp_path / "no-credentials.json"
    empty_auth.write_text('{"auths": {}}')
    if not front.anonymous_pull:
        expect(manifest, 401)
        podman = _podman(toolbox, "anonymous")
        refused = toolbox.run(
            [*podman, "pull", "--tls-verify=false", "--authfile", str(empty_auth), reference],
            check=False,
        )
        _assert_refused(refused)
        return
    expect(manifest, 200)
    assert manifest.content == image.manifest, describe(manifest)
    local = _podman_pull(toolbox, "anonymous", reference, empty_auth)
    assert local == image.digest, f"podman pulled {local}, pushed {image.digest}"


# ---------------------------------------------------------------------------- c. roles, robots

TEAM = "e2e-team"
GUEST_ROLE = 3
DEVELOPER_ROLE = 2


def _new_password() -> str:
    # Harbor's rule: 8-128 characters with an upper-case letter, a lower-case one and a digit.
    return "E2e" + secrets.token_urlsafe(12) + "x7"


def _create_user(api: httpx.Client, username: str, password: str) -> None:
    body = {
        "username": username,
        "email": f"{username}@e2e.example.com",
        "realname": username,
        "password": password,
        "comment": "berth e2e (nginx)",
    }
    expect(api.post("/api/v2.0/users", json=body), 201)


def _add_member(api: httpx.Client, username: str, role_id: int) -> None:
    body = {"role_id": role_id, "member_user": {"username": username}}
    expect(api.post(f"/api/v2.0/projects/{TEAM}/members", json=body), 201)


def test_project_roles_and_robot_through_nginx(
    nginx_front: Registry, berth_pair: RegistryPair, toolbox: Toolbox, tmp_path: Path
) -> None:
    front = nginx_front
    guest, developer = "e2e-guest", "e2e-developer"
    guest_pw, developer_pw = _new_password(), _new_password()
    with httpx.Client(
        base_url=front.url, auth=(front.username, front.password), timeout=30.0
    ) as api:
        if not front.is_berth:
            # Distribution has no Harbor API and knows no users but its htpasswd admin.
            expect(api.get("/api/v2.0/projects"), 404)
            return
        _create_user(api, guest, guest_pw)
        _create_user(api, developer, developer_pw)
        project = {"project_name": TEAM, "metadata": {"public": "false"}}
        expect(api.post("/api/v2.0/projects", json=project), 201)
        _add_member(api, guest, GUEST_ROLE)
        _add_member(api, developer, DEVELOPER_ROLE)
        robot_request = {
            "name": "puller",
            "level": "project",
            "duration": -1,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": TEAM,
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        }
        created = expect(api.post("/api/v2.0/robots", json=robot_request), 201)
    robot = created.json()
    assert robot.get("name") == f"robot${TEAM}+puller", describe(created)
    assert robot.get("secret"), describe(created)

    image, source = _image_layout(tmp_path / "layout")
    repository = f"{TEAM}/app"
    reference = f"{front.host}/{repository}:1"

    # A guest may pull but not push.
    by_guest = _skopeo_push(toolbox, source, reference, "--dest-creds", f"{guest}:{guest_pw}")
    _assert_refused(by_guest)
    assert _served_digest(front, repository, "1") is None

    # A developer may push.
    by_developer = _skopeo_push(
        toolbox, source, reference, "--dest-creds", f"{developer}:{developer_pw}"
    )
    assert by_developer.returncode == 0, by_developer.explain()
    assert _served_digest(front, repository, "1") == image.digest

    # The project is private: nothing for anonymous callers.
    anonymous = toolbox.run(
        ["skopeo", "inspect", "--raw", "--no-creds", "--tls-verify=false", f"docker://{reference}"],
        check=False,
    )
    _assert_refused(anonymous)

    # The robot logs in and pulls ...
    robot_auth = tmp_path / "robot-auth.json"
    podman = _podman(toolbox, "robot")
    _login(toolbox, podman, robot_auth, front.host, robot["name"], robot["secret"])
    local = _podman_pull(toolbox, "robot", reference, robot_auth)
    assert local == image.digest, f"the robot pulled {local}, the developer pushed {image.digest}"

    # ... but may not push, not even what it pulled.
    robot_reference = f"{front.host}/{repository}:by-robot"
    by_robot = _skopeo_push(toolbox, source, robot_reference, "--dest-authfile", str(robot_auth))
    _assert_refused(by_robot)
    assert _served_digest(front, repository, "by-robot") is None


# ---------------------------------------------------------------------------- d. 200 MiB layer

BIG_REPOSITORY = "library/e2e-nginx-big"
BIG_SIZE = 200 * MiB
CHUNK = 1 * MiB
# After this much has gone into the socket, the backends must already have stored most of
# it: nginx is streaming, not spooling the body to disk before passing it on.
CHECKPOINT_CHUNKS = 128
CHECKPOINT_STORED = 96 * MiB
CHECKPOINT_TIMEOUT = 30.0
# A client that stops reading a download for this long must not make nginx spool the rest.
STALL_SECONDS = 2.0


def _big_payload(hasher: hashlib._Hash, checkpoint: Iterator[None]) -> Iterator[bytes]:
    """BIG_SIZE in CHUNK pieces, each different, hashed as generated; ``checkpoint`` is run
    once, after CHECKPOINT_CHUNKS pieces have been sent."""
    block = bytearray(os.urandom(CHUNK))
    for index in range(BIG_SIZE // CHUNK):
        if index == CHECKPOINT_CHUNKS:
            next(checkpoint, None)
        block[:8] = index.to_bytes(8, "big")
        chunk = bytes(block)
        hasher.update(chunk)
        yield chunk


def _backends_storing(root: Path, at_least: int, nginx: ServerProcess) -> Iterator[None]:
    """Wait until some file under ``root`` holds ``at_least`` bytes."""
    deadline = time.monotonic() + CHECKPOINT_TIMEOUT
    largest = _largest_file(root)
    while largest < at_least:
        assert time.monotonic() < deadline, (
            f"{CHECKPOINT_CHUNKS} MiB of the PATCH body had been sent to nginx, but after "
            f"{CHECKPOINT_TIMEOUT:.0f} s the largest file in the backends' storage held "
            f"{largest / MiB:.1f} MiB, while nginx held {spooled_bytes(nginx) / MiB:.1f} MiB "
            "in temp files: nginx buffers (or cut off) the request body"
        )
        time.sleep(0.1)
        largest = _largest_file(root)
    yield


def _spooled_while_stalled(nginx: ServerProcess) -> int:
    """The most nginx held in temp files while the client read nothing for STALL_SECONDS."""
    deadline = time.monotonic() + STALL_SECONDS
    most = 0
    while time.monotonic() < deadline:
        most = max(most, spooled_bytes(nginx))
        time.sleep(0.1)
    return most


def test_200_mib_layer_streams_through_nginx(
    nginx_front: Registry, berth_pair: RegistryPair
) -> None:
    front = nginx_front
    [nginx] = front.servers
    storage = _storage_root(berth_pair.first.servers[0])
    with front.client(timeout=300.0) as client:
        started = expect(client.post(f"/v2/{BIG_REPOSITORY}/blobs/uploads/"), 202)
        location = started.headers["location"]
        # An absolute Location must name nginx, the address the client used.
        assert urlsplit(location).netloc in ("", front.host), describe(started)

        hasher = hashlib.sha256()
        checkpoint = _backends_storing(storage, CHECKPOINT_STORED, nginx)
        # A generator body: httpx sends it chunked, in one PATCH, with no Content-Length.
        patched = client.patch(
            location_on(front.url, location),
            content=_big_payload(hasher, checkpoint),
            headers={"Content-Type": "application/octet-stream"},
        )
        expect(patched, 202)
        assert patched.headers.get("range") == f"0-{BIG_SIZE - 1}", describe(patched)
        digest = "sha256:" + hasher.hexdigest()

        put_url = with_query(location_on(front.url, patched.headers["location"]), digest=digest)
        committed = expect(client.put(put_url), 201)
        assert committed.headers.get("docker-content-digest") == digest, describe(committed)

        head = expect(client.head(f"/v2/{BIG_REPOSITORY}/blobs/{digest}"), 200)
        assert head.headers.get("content-length") == str(BIG_SIZE), describe(head)

        pulled = hashlib.sha256()
        received = 0
        with client.stream("GET", f"/v2/{BIG_REPOSITORY}/blobs/{digest}") as response:
            if response.status_code != 200:
                response.read()
            expect(response, 200)
            chunks = response.iter_bytes(CHUNK)
            first = next(chunks)
            # With proxy_buffering off, a stalled client stalls Berth's stream too; buffered,
            # nginx would go on reading the layer into proxy_temp_path.
            spooled = _spooled_while_stalled(nginx)
            assert spooled == 0, f"nginx spooled {spooled / MiB:.1f} MiB of the download"
            for chunk in itertools.chain([first], chunks):
                pulled.update(chunk)
                received += len(chunk)
    assert received == BIG_SIZE
    assert "sha256:" + pulled.hexdigest() == digest


# ---------------------------------------------------------------------------- e. the TLS example


def test_tls_example_matches_the_plain_server() -> None:
    """The commented TLS server carries the same locations as the live plain server."""
    text = deploy_conf()
    [(start, end)] = server_blocks(text)
    plain = directives(text[start:end])
    enabled = uncomment_tls_example(text)
    tls = [enabled[s:e] for s, e in server_blocks(enabled) if TLS_LISTEN in enabled[s:e]]
    assert len(tls) == 1, f"{DEPLOY_CONF}: no single server with {TLS_LISTEN!r} in the example"
    assert directives(tls[0]) == plain, (
        f"{DEPLOY_CONF}: the TLS example's locations differ from the plain server's"
    )


def test_tls_example_serves_https_through_nginx(
    nginx_tls_front: tuple[Registry, str],
    berth_pair: RegistryPair,
    toolbox: Toolbox,
    tmp_path: Path,
) -> None:
    front, redirect_host = nginx_tls_front
    [nginx] = front.servers
    log_start = nginx.log_offset()
    https = f"https://{front.host}"

    # The test's certificate is self-signed.
    with httpx.Client(verify=False, timeout=30.0) as client:  # noqa: S501
        challenge = expect(client.get(f"{https}/v2/"), 401)
        moved = expect(client.get(f"http://{redirect_host}/v2/_catalog?n=1"), 308)
    hsts = challenge.headers.get("strict-transport-security", "")
    assert hsts.startswith("max-age=31536000"), describe(challenge)
    scheme, params = parse_challenge(challenge.headers.get("www-authenticate", ""))
    if front.is_berth:
        # X-Forwarded-Proto made it through: the realm is https on nginx's TLS address.
        assert scheme == "bearer", describe(challenge)
        assert params.get("realm") == f"{https}/service/token", describe(challenge)
    else:
        assert scheme == "basic", describe(challenge)
    # Production listens on 443, so the redirect names no port.
    assert moved.headers.get("location") == "https://127.0.0.1/v2/_catalog?n=1", describe(moved)

    image, source = _image_layout(tmp_path / "layout")
    reference = f"{front.host}/library/e2e-nginx-tls:1"
    pushed = _skopeo_push(toolbox, source, reference, "--dest-creds", front.creds)
    assert pushed.returncode == 0, pushed.explain()
    raw = toolbox.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            front.creds,
            f"docker://{reference}",
        ]
    )
    assert raw.stdout == image.manifest, raw.explain()

    # HTTP/2 (browsers, curl; containers/image stays on HTTP/1.1 with its own TLS config):
    # nginx must turn :authority into the Host that Berth builds the realm from.
    curl = ["curl", "--silent", "--show-error", "--insecure", "--http2", "--dump-header", "-"]
    over_h2 = toolbox.run([*curl, "--output", "/dev/null", f"{https}/v2/"]).text
    status_line = over_h2.splitlines()[0] if over_h2 else ""
    assert status_line.strip() == "HTTP/2 401", over_h2
    if front.is_berth:
        assert f'realm="{https}/service/token"' in over_h2, over_h2

    logged = nginx.log_since(log_start)
    assert '"GET /v2/ HTTP/2.0" 401' in logged, logged[-4000:]
    assert _backends(berth_pair) <= set(upstreams_in_log(logged)), logged[-4000:]
