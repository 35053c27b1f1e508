"""The chart repository (ChartMuseum API, Harbor 2.7 shapes) over real HTTP, on both blob
stores: uploads, the index, downloads, details, deletes, bad charts, roles, quotas, and the
chart as the artifact API shows it."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import httpx
import yaml

from tests.integration.api.conftest import ADMIN_PASSWORD, Berth, create_project
from tests.integration.api.test_identity import PASSWORD, add_member, make_user

STORAGE_DRIVERS = ("filesystem", "s3")
ADMIN = ("admin", ADMIN_PASSWORD)


def chart_tgz(
    name: str = "demo",
    version: str = "0.1.0",
    *,
    top: str | None = None,
    extra: dict[str, bytes] | None = None,
    chart_yaml: bytes | None = None,
) -> bytes:
    files = {
        "Chart.yaml": chart_yaml
        if chart_yaml is not None
        else (
            f"apiVersion: v2\nname: {name}\nversion: {version}\ndescription: A {name} chart\n"
            "dependencies:\n- name: redis\n  version: 1.x\n  repository: https://charts.example\n"
        ).encode(),
        "values.yaml": b"replicaCount: 2\nimage:\n  repository: nginx\n",
        "README.md": f"# {name}\n".encode(),
        "templates/cm.yaml": b"apiVersion: v1\nkind: ConfigMap\n",
        **(extra or {}),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top or name}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def client(berth: Berth, auth: tuple[str, str] | None = ADMIN) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=berth.url, auth=auth, timeout=30)


async def upload(
    c: httpx.AsyncClient, project: str, data: bytes, *, filename: str = "c.tgz", query: str = ""
) -> httpx.Response:
    return await c.post(
        f"/api/chartrepo/{project}/charts{query}",
        files={"chart": (filename, data, "application/gzip")},
    )


async def test_upload_index_download_details_delete(berth: Berth) -> None:
    first = chart_tgz("demo", "0.1.0")
    second = chart_tgz("demo", "0.2.0+build.1")
    async with client(berth) as c:
        assert (await c.get("/api/chartrepo/health")).json() == {"healthy": True}
        r = await upload(c, "library", first, filename="demo-0.1.0.tgz")
        assert r.status_code == 201, r.text
        assert r.json() == {"saved": True}
        # The raw archive as the body works too (curl --data-binary).
        r = await c.post("/api/chartrepo/library/charts", content=second)
        assert r.status_code == 201, r.text
        r = await upload(c, "library", first)
        assert r.status_code == 409
        assert r.json() == {"error": "file already exists"}

        r = await c.get("/chartrepo/library/index.yaml")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-yaml")
        index = yaml.safe_load(r.text)
        assert index["apiVersion"] == "v1"
        versions = index["entries"]["demo"]
        assert [v["version"] for v in versions] == ["0.2.0+build.1", "0.1.0"]
        assert versions[1]["urls"] == ["charts/demo-0.1.0.tgz"]
        assert versions[1]["digest"] == hashlib.sha256(first).hexdigest()
        assert versions[1]["description"] == "A demo chart"
        assert versions[1]["dependencies"][0]["name"] == "redis"

        r = await c.get("/chartrepo/library/charts/demo-0.1.0.tgz")
        assert r.status_code == 200
        assert r.content == first
        assert r.headers["content-type"] == "application/x-tar"
        r = await c.get("/chartrepo/library/charts/demo-9.9.9.tgz")
        assert r.status_code == 404
        assert "error" in r.json()

        listed = (await c.get("/api/chartrepo/library/charts")).json()
        assert listed[0]["name"] == "demo"
        assert listed[0]["total_versions"] == 2
        assert listed[0]["latest_version"] == "0.2.0+build.1"
        detail = (await c.get("/api/chartrepo/library/charts/demo/0.1.0")).json()
        assert detail["metadata"]["name"] == "demo"
        assert detail["values"] == {"image.repository": "nginx", "replicaCount": 2}
        assert detail["files"]["README.md"] == "# demo\n"
        assert detail["dependencies"][0]["repository"] == "https://charts.example"
        assert detail["security"]["signature"]["signed"] is False
        latest = (await c.get("/api/chartrepo/library/charts/demo/latest")).json()
        assert latest["metadata"]["version"] == "0.2.0+build.1"

        # Both are OCI chart artifacts too, with Harbor's chart additions.
        api = "/api/v2.0/projects/library/repositories/demo/artifacts"
        artifacts = (await c.get(api)).json()
        assert {a["type"] for a in artifacts} == {"CHART"}
        assert set(artifacts[0]["addition_links"]) == {"values.yaml", "readme.md", "dependencies"}
        r = await c.get(f"{api}/0.1.0/additions/values.yaml")
        assert r.status_code == 200
        assert "replicaCount: 2" in r.text
        r = await c.get(f"{api}/0.1.0/additions/dependencies")
        assert r.json()[0]["name"] == "redis"

        # A forced upload replaces the version.
        changed = chart_tgz("demo", "0.1.0", extra={"NOTES.txt": b"new"})
        r = await upload(c, "library", changed, query="?force=true")
        assert r.status_code == 201, r.text
        r = await c.get("/chartrepo/library/charts/demo-0.1.0.tgz")
        assert r.content == changed
        assert len((await c.get(api)).json()) == 2

        r = await c.delete("/api/chartrepo/library/charts/demo/0.1.0")
        assert r.json() == {"deleted": True}
        index = yaml.safe_load((await c.get("/chartrepo/library/index.yaml")).text)
        assert [v["version"] for v in index["entries"]["demo"]] == ["0.2.0+build.1"]
        r = await c.delete("/api/chartrepo/library/charts/demo")
        assert r.status_code == 200
        index = yaml.safe_load((await c.get("/chartrepo/library/index.yaml")).text)
        assert index["entries"] == {}
        assert (await c.get("/api/chartrepo/library/charts/demo")).status_code == 404
        assert (await c.get(api)).json() == []

        logs = (await c.get("/api/v2.0/audit-logs", params={"page_size": 50})).json()
        operations = {(entry["operation"], entry["resource"]) for entry in logs}
        assert ("create", "library/demo:0.1.0") in operations
        assert ("pull", "library/demo:0.1.0") in operations
        assert ("delete", "library/demo:0.2.0+build.1") in operations


async def test_bad_charts_are_refused_with_chartmuseum_errors(berth: Berth) -> None:
    traversal = io.BytesIO()
    with tarfile.open(fileobj=traversal, mode="w:gz") as tar:
        for path in ("demo/Chart.yaml", "demo/../../etc/passwd"):
            data = b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    link = io.BytesIO()
    with tarfile.open(fileobj=link, mode="w:gz") as tar:
        data = b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"
        info = tarfile.TarInfo("demo/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        sym = tarfile.TarInfo("demo/templates/x.yaml")
        sym.type = tarfile.SYMTYPE
        sym.linkname = "/etc/shadow"
        tar.addfile(sym)
    many = chart_tgz(extra={f"templates/f{i}.yaml": b"" for i in range(5001)})
    # 6 MiB of zeros: a file past the per-file limit, tiny once compressed.
    bomb = chart_tgz(extra={"templates/big.yaml": b"\0" * (6 * 1024 * 1024)})
    aliases = chart_tgz(
        chart_yaml=b"apiVersion: v2\nname: demo\nversion: 1.0.0\na: &a [x, x]\nb: [*a, *a]\n"
    )
    cases = {
        "not gzip": (b"PK\x03\x04 a zip, not a chart", "not a gzipped tar"),
        "gzip but not tar": (gzip.compress(b"just text"), "not a valid gzipped tar"),
        "no Chart.yaml": (chart_tgz(chart_yaml=b""), "Chart.yaml"),
        "missing Chart.yaml": (
            gzip.compress(tarfile_bytes({"demo/values.yaml": b"a: 1\n"})),
            "no Chart.yaml",
        ),
        "name mismatch": (chart_tgz("demo", top="other"), "names the chart 'demo'"),
        "bad version": (chart_tgz("demo", "latest"), "not a semantic version"),
        "uppercase name": (chart_tgz("Demo"), "chart name 'Demo' is invalid"),
        "path traversal": (traversal.getvalue(), "path traversal"),
        "symlink": (link.getvalue(), "link or special file"),
        "too many entries": (many, "more than 5000 entries"),
        "tar bomb": (bomb, "larger than 5242880 bytes"),
        "yaml aliases": (aliases, "aliases"),
    }
    async with client(berth) as c:
        for case, (data, message) in cases.items():
            r = await upload(c, "library", data)
            assert r.status_code == 400, (case, r.text)
            assert message in r.json()["error"], (case, r.text)
        r = await upload(c, "library", chart_tgz("demo", "1.0.0"), filename="demo-2.0.0.tgz")
        assert r.status_code == 400
        assert "its name must be demo-1.0.0.tgz" in r.json()["error"]
        huge = b"\x1f\x8b" + b"x" * (21 * 1024 * 1024)
        r = await c.post("/api/chartrepo/library/charts", content=huge)
        assert r.status_code == 400
        assert "larger than the 20971520 byte limit" in r.json()["error"]
        assert (await c.get("/api/chartrepo/library/charts")).json() == []


def tarfile_bytes(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def test_roles_anonymous_reads_and_the_merged_index(berth: Berth) -> None:
    await create_project(berth, "private")
    for user, role in (("gina", 3), ("dev", 2), ("mia", 4)):
        await make_user(berth, user)
        await add_member(berth, "private", user, role)
    async with client(berth, None) as anonymous:
        r = await anonymous.get("/chartrepo/private/index.yaml")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Basic")
        assert "error" in r.json()
        r = await anonymous.get("/chartrepo/library/index.yaml")
        assert r.status_code == 200
    async with client(berth, ("gina", PASSWORD)) as guest:
        assert (await guest.get("/chartrepo/private/index.yaml")).status_code == 200
        r = await upload(guest, "private", chart_tgz("app"))
        assert r.status_code == 403
    async with client(berth, ("dev", PASSWORD)) as dev:
        assert (await upload(dev, "private", chart_tgz("app"))).status_code == 201
        assert (await dev.delete("/api/chartrepo/private/charts/app/0.1.0")).status_code == 403
    async with client(berth, ("x", "y")) as wrong:
        assert (await wrong.get("/chartrepo/library/index.yaml")).status_code == 401
    async with client(berth) as admin:
        assert (await upload(admin, "library", chart_tgz("pub"))).status_code == 201
    # The merged index names charts <project>/<name>, only where the caller may read.
    async with client(berth, None) as anonymous:
        merged = yaml.safe_load((await anonymous.get("/chartrepo/index.yaml")).text)
        assert set(merged["entries"]) == {"library/pub"}
        assert merged["entries"]["library/pub"][0]["urls"] == ["library/charts/pub-0.1.0.tgz"]
        assert (await anonymous.get("/chartrepo/library/charts/pub-0.1.0.tgz")).status_code == 200
    async with client(berth, ("gina", PASSWORD)) as guest:
        merged = yaml.safe_load((await guest.get("/chartrepo/index.yaml")).text)
        assert set(merged["entries"]) == {"library/pub", "private/app"}
    async with client(berth, ("mia", PASSWORD)) as maintainer:
        r = await maintainer.delete("/api/chartrepo/private/charts/app/0.1.0")
        assert r.status_code == 200


async def test_quota_counts_chart_bytes(berth: Berth) -> None:
    data = chart_tgz("sized")
    async with client(berth) as c:
        quota = (await c.get("/api/v2.0/quotas", params={"reference_id": "library"})).json()[0]
        before = quota["used"]["storage"]
        assert (await upload(c, "library", data)).status_code == 201
        quota = (await c.get("/api/v2.0/quotas", params={"reference_id": "library"})).json()[0]
        assert quota["used"]["storage"] >= before + len(data)
        r = await c.put(f"/api/v2.0/quotas/{quota['id']}", json={"hard": {"storage": 10}})
        assert r.status_code == 200, r.text
        r = await upload(c, "library", chart_tgz("other"))
        assert r.status_code == 507
        assert "exceed the configured upper limit" in r.json()["error"]


async def test_the_index_is_rebuilt_only_when_charts_change(berth: Berth) -> None:
    async with client(berth) as c:
        assert (await upload(c, "library", chart_tgz("cached"))).status_code == 201
        first = (await c.get("/chartrepo/library/index.yaml")).text
        # Same content, same cached build: even its generated time stays.
        assert (await c.get("/chartrepo/library/index.yaml")).text == first
        assert (await upload(c, "library", chart_tgz("cached", "0.2.0"))).status_code == 201
        second = yaml.safe_load((await c.get("/chartrepo/library/index.yaml")).text)
        assert len(second["entries"]["cached"]) == 2
        # A delete through the artifact API changes the index as well.
        r = await c.delete("/api/v2.0/projects/library/repositories/cached/artifacts/0.2.0")
        assert r.status_code == 200
        third = yaml.safe_load((await c.get("/chartrepo/library/index.yaml")).text)
        assert [v["version"] for v in third["entries"]["cached"]] == ["0.1.0"]


def provenance_for(name: str, version: str, data: bytes) -> bytes:
    """A provenance file in Helm's layout (Berth checks its shape and digest; the signature is
    for the client to verify, so a placeholder does here)."""
    return (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
        f"apiVersion: v2\nname: {name}\nversion: {version}\n\n...\nfiles:\n"
        f"  {name}-{version}.tgz: sha256:{hashlib.sha256(data).hexdigest()}\n"
        "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n"
    ).encode()


async def test_provenance_files_and_the_library_upload_path(berth: Berth) -> None:
    data = chart_tgz("signed", "1.0.0")
    async with client(berth) as c:
        # Harbor's POST /api/chartrepo/charts stores into library.
        r = await c.post("/api/chartrepo/charts", files={"chart": ("signed-1.0.0.tgz", data)})
        assert r.status_code == 201, r.text
        assert (await c.get("/chartrepo/library/charts/signed-1.0.0.tgz.prov")).status_code == 404
        wrong = provenance_for("signed", "1.0.0", b"other bytes")
        r = await c.post("/api/chartrepo/library/prov", files={"prov": ("x.prov", wrong)})
        assert r.status_code == 400
        assert "signs other bytes" in r.json()["error"]
        r = await c.post(
            "/api/chartrepo/library/prov", files={"prov": ("x.prov", b"not a signature")}
        )
        assert r.status_code == 400
        orphan = provenance_for("nochart", "1.0.0", data)
        r = await c.post("/api/chartrepo/library/prov", files={"prov": ("x.prov", orphan)})
        assert r.status_code == 404
        prov = provenance_for("signed", "1.0.0", data)
        r = await c.post("/api/chartrepo/library/prov", files={"prov": ("x.prov", prov)})
        assert r.status_code == 201, r.text
        r = await c.get("/chartrepo/library/charts/signed-1.0.0.tgz.prov")
        assert r.status_code == 200
        assert r.content == prov
        assert r.headers["content-type"] == "application/pgp-signature"
        detail = (await c.get("/api/chartrepo/library/charts/signed/1.0.0")).json()
        assert detail["security"]["signature"]["signed"] is True
        # The OCI artifact now carries the provenance layer, as helm push would.
        manifest = (
            await c.get(
                "/v2/library/signed/manifests/1.0.0",
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            )
        ).json()
        assert {layer["mediaType"] for layer in manifest["layers"]} == {
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "application/vnd.cncf.helm.chart.provenance.v1.prov",
        }
        r = await c.head("/chartrepo/library/index.yaml")
        assert r.status_code == 200


async def test_robot_chart_permissions(berth: Berth) -> None:
    await create_project(berth, "bots")
    async with client(berth) as c:
        r = await c.post(
            "/api/v2.0/robots",
            json={
                "name": "charts",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "bots",
                        "access": [
                            {"resource": "helm-chart", "action": "read"},
                            {"resource": "helm-chart-version", "action": "create"},
                        ],
                    }
                ],
            },
        )
        assert r.status_code == 201, r.text
        robot = r.json()
        r = await c.post(
            "/api/v2.0/robots",
            json={
                "name": "images",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "bots",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        images_only = r.json()
    async with client(berth, (robot["name"], robot["secret"])) as bot:
        assert (await upload(bot, "bots", chart_tgz("botchart"))).status_code == 201
        assert (await bot.get("/chartrepo/bots/index.yaml")).status_code == 200
        r = await bot.delete("/api/chartrepo/bots/charts/botchart/0.1.0")
        assert r.status_code == 403
    # A robot allowed only image pulls does not read the chart repository.
    async with client(berth, (images_only["name"], images_only["secret"])) as bot:
        assert (await bot.get("/chartrepo/bots/index.yaml")).status_code == 403
