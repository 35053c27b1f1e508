"""The chart repository behind deploy/nginx.conf and two Berth replicas: a chart larger than
nginx's default body limit uploads through /api/chartrepo/, and helm 4 reads the index and
the archive back through nginx, whichever replica answers."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.e2e._helm import Helm
from tests.e2e._servers import Registry, RegistryPair

pytestmark = pytest.mark.e2e


def test_charts_through_nginx_and_both_replicas(
    nginx_front: Registry, berth_pair: RegistryPair, tmp_path: Path
) -> None:
    if not nginx_front.is_berth:
        pytest.skip("chart repositories are Berth's, not Distribution's")
    helm = Helm(4, tmp_path / "helm")
    helm.run("create", "bulky")
    # 3 MiB of incompressible bytes: past nginx's 1 MiB default, within the chart locations'.
    (helm.root / "bulky" / "files").mkdir()
    (helm.root / "bulky" / "files" / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    helm.run("package", "bulky", "--destination", str(helm.root / "dist"))
    archive = helm.root / "dist" / "bulky-0.1.0.tgz"
    auth = (nginx_front.username, nginx_front.password)
    with httpx.Client(base_url=nginx_front.url, auth=auth, timeout=60) as c:
        r = c.post(
            "/api/chartrepo/library/charts",
            files={"chart": (archive.name, archive.read_bytes())},
        )
        assert r.status_code == 201, r.text
    # Each replica serves the same index (built from the shared database).
    for replica in (berth_pair.first, berth_pair.second):
        with httpx.Client(base_url=replica.url, auth=auth, timeout=60) as c:
            assert "bulky" in c.get("/chartrepo/library/index.yaml").text

    helm.run(
        "repo",
        "add",
        "front",
        f"{nginx_front.url}/chartrepo/library",
        "--username",
        nginx_front.username,
        "--password-stdin",
        input_text=nginx_front.password,
    )
    found = helm.run("search", "repo", "front/bulky")
    assert "front/bulky" in found.stdout
    pulled = helm.root / "pulled"
    pulled.mkdir()
    helm.run("pull", "front/bulky", "--destination", str(pulled))
    assert (pulled / archive.name).read_bytes() == archive.read_bytes()
    # Deleted through one replica, gone from the index the other serves.
    with httpx.Client(base_url=berth_pair.first.url, auth=auth, timeout=60) as c:
        assert c.delete("/api/chartrepo/library/charts/bulky").status_code == 200
    with httpx.Client(base_url=berth_pair.second.url, auth=auth, timeout=60) as c:
        assert "bulky" not in c.get("/chartrepo/library/index.yaml").text
