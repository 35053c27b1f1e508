"""Behind nginx with BERTH_NGINX_BLOB_LOCATION set: Berth authorizes a blob download and hands
it to nginx with X-Accel-Redirect, and nginx sends the file from the storage root.

One ``berth serve`` (its embedded PostgreSQL and Redis) whose storage root nginx's workers can
read, behind Debian's nginx running deploy/nginx.conf; both upstream entries name the same
server.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator

import pytest

from tests.e2e._nginx import nginx_workdir, start_nginx_front
from tests.e2e._servers import Registry, ServerProcess, start_berth

pytestmark = pytest.mark.e2e

LOCATION = "/_berth_storage"
USERNAME = "admin"
PRIVATE_PROJECT = "xaccel"
SIZE = 5 * 1024 * 1024 + 12_345


@pytest.fixture(scope="module")
def front(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if target != "berth":
        pytest.fail("X-Accel-Redirect downloads are Berth's", pytrace=False)
    workdir = tmp_path_factory.mktemp("xaccel")
    password = "e2e-" + os.urandom(9).hex()
    # Under /tmp with mode 0755, unlike pytest's tmp dirs: nginx's workers (www-data) read it.
    shared = nginx_workdir()
    storage = shared / "storage"
    storage.mkdir(mode=0o755)
    servers: list[ServerProcess] = []
    try:
        berth, host = start_berth(
            workdir / "data",
            password=password,
            extra_env={
                "BERTH_NGINX_BLOB_LOCATION": LOCATION,
                "BERTH_STORAGE__FILESYSTEM__ROOT": str(storage),
            },
        )
        servers.append(berth)
        nginx, nginx_host = start_nginx_front(shared, [host, host], storage_root=storage)
        servers.append(nginx)
        yield Registry("berth", nginx_host, USERNAME, password, [nginx, berth])
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture(scope="module")
def blob(front: Registry) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with front.client() as client:
        created = client.post("/api/v2.0/projects", json={"project_name": PRIVATE_PROJECT})
        assert created.status_code == 201, created.text
        started = client.post(f"/v2/{PRIVATE_PROJECT}/app/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        put = client.put(location, params={"digest": digest}, content=data)
        assert put.status_code == 201, put.text
    return digest, data


def _url(digest: str) -> str:
    return f"/v2/{PRIVATE_PROJECT}/app/blobs/{digest}"


def test_a_pulled_blob_is_the_pushed_bytes(front: Registry, blob: tuple[str, bytes]) -> None:
    digest, data = blob
    with front.client() as client:
        got = client.get(_url(digest))
        head = client.head(_url(digest))
    assert got.status_code == 200, got.text
    assert got.content == data
    assert got.headers["docker-content-digest"] == digest
    assert "x-accel-redirect" not in got.headers
    assert head.status_code == 200
    assert head.headers["content-length"] == str(SIZE)
    assert head.headers["docker-content-digest"] == digest


def test_the_download_is_nginxs_not_berths(front: Registry, blob: tuple[str, bytes]) -> None:
    digest, _ = blob
    berth = front.servers[1]
    # The same request straight to Berth: a redirect for nginx, no bytes.
    backend = Registry("berth", _backend_host(berth), USERNAME, front.password, [berth])
    with backend.client() as client:
        answer = client.get(_url(digest))
    assert answer.status_code == 200
    assert answer.content == b""
    sha = digest.split(":", 1)[1]
    assert answer.headers["x-accel-redirect"] == f"{LOCATION}/blobs/sha256/{sha[:2]}/{sha}/data"


def test_ranges_through_nginx(front: Registry, blob: tuple[str, bytes]) -> None:
    digest, data = blob
    with front.client() as client:
        middle = client.get(_url(digest), headers={"Range": "bytes=1000-1999"})
        suffix = client.get(_url(digest), headers={"Range": "bytes=-7"})
        open_ended = client.get(_url(digest), headers={"Range": f"bytes={SIZE - 100}-"})
        beyond = client.get(_url(digest), headers={"Range": f"bytes={SIZE}-"})
    assert middle.status_code == 206
    assert middle.content == data[1000:2000]
    assert middle.headers["content-range"] == f"bytes 1000-1999/{SIZE}"
    assert suffix.status_code == 206
    assert suffix.content == data[-7:]
    assert open_ended.status_code == 206
    assert open_ended.content == data[-100:]
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{SIZE}"


def test_authorization_is_still_enforced(front: Registry, blob: tuple[str, bytes]) -> None:
    digest, data = blob
    sha = digest.split(":", 1)[1]
    with front.client(anonymous=True) as anonymous:
        refused = anonymous.get(_url(digest))
        # The internal location itself, asked for by a client: nginx does not serve it.
        direct = anonymous.get(f"{LOCATION}/blobs/sha256/{sha[:2]}/{sha}/data")
    assert refused.status_code == 401
    assert refused.content != data
    assert direct.status_code == 404
    assert direct.content != data


def _backend_host(server: ServerProcess) -> str:
    # start_berth's command line names its port.
    port = server.argv[server.argv.index("--port") + 1]
    return f"127.0.0.1:{port}"
