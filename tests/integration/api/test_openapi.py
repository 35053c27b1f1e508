"""The OpenAPI document of /api/v2.0: served, valid, complete, and true to the live server.

The last test fuzzes every documented operation with schemathesis (positive and negative
data) against a real Berth holding a seed: a project with a pushed image, a member user, a
robot, a group, a label on the artifact, an immutable tag rule, a retention policy with a
run, garbage collection and audit-purge runs. Half the generated requests name the seeded
resources (path parameters, and ``from``/``reference_id``/``project_id`` in the query), so
handlers run past their lookups instead of answering 404. The seed is repaired after each
operation that may change it (fuzzing DELETE and PUT removes or alters it), so nothing
needs to be excluded, and the admin account is protected by the server itself.

Any 5xx, undocumented status code or content type, missing list header, or body that does
not match its schema fails the test, listing every distinct failure with a curl line.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import BaseRoute, Match, Route

from registry.api.v2_0.openapi import DOCUMENT
from registry.services.configuration import KEYS
from tests.integration.api.conftest import ADMIN_PASSWORD, Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, api

AnyCase = Case[APIOperation[Any, Any, Any, Any]]
PREFIX = "/api/v2.0"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Generated examples per operation, for each generation mode (positive, negative) and each
# target (random resources, seeded ones): up to 20 requests an operation by default.
EXAMPLES = int(os.environ.get("BERTH_OPENAPI_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (PREFIX + path, method.upper())
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def _routed(berth: Berth) -> set[tuple[str, str]]:
    """(path template, method) of every route under /api/v2.0; ``{name:path}`` becomes
    ``{name}``, and the HEAD Starlette adds to every GET route is left out, as is the
    catch-all that answers unknown paths with a 404 envelope."""
    found = set()
    for route in berth.app.routes:
        if not isinstance(route, Route) or not route.path.startswith(PREFIX + "/"):
            continue
        if route.path == PREFIX + "/{rest:path}":
            continue
        path = _template(route)
        methods = set(route.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")
        found |= {(path, m) for m in methods}
    return found


async def test_document_is_served_and_valid_openapi(berth: Berth) -> None:
    doc = _document()
    async with berth.raw() as anonymous:
        r = await anonymous.get(f"{PREFIX}/openapi.json")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json() == doc
        r = await anonymous.get(f"{PREFIX}/openapi.yaml")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/yaml")
        assert r.content == DOCUMENT.read_bytes()
    # Against the OpenAPI 3.0 meta-schema; openapi-spec-validator (there with moto[server])
    # also resolves every $ref and checks that path parameters are declared.
    schemathesis.openapi.from_dict(doc).validate()
    try:
        import openapi_spec_validator
    except ImportError:
        pass
    else:
        openapi_spec_validator.validate(doc)

    operation_ids = [
        op["operationId"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            codes = set(op["responses"])
            if op.get("security") != []:
                assert {"401", "500"} <= codes, where
            if "requestBody" in op:
                assert {"400", "413"} <= codes, where
            ok = op["responses"].get("200", {})
            schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("type") == "array" and any(
                p.get("$ref") == "#/components/parameters/page" for p in op.get("parameters", [])
            ):
                assert "X-Total-Count" in ok.get("headers", {}), where


async def test_document_matches_routing_table(berth: Berth) -> None:
    documented, routed = _documented(_document()), _routed(berth)
    assert sorted(routed - documented) == [], "served but not documented"
    assert sorted(documented - routed) == [], "documented but not served"

    # Every documented operation is reached by its route: an earlier route with a broader
    # pattern (a repository name may hold slashes) must not shadow it.
    samples = {"repository_name": "team/app", "addition": "build_history"}
    for path, method in sorted(documented):
        concrete = re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "x1"), path)
        winner = _answering(berth.app.routes, concrete, method)
        assert isinstance(winner, Route), f"{method} {concrete} reaches no route"
        assert _template(winner) == path, f"{method} {concrete} is answered by {winner.path}"


# --- fuzzing the live server -----------------------------------------------------------------


@dataclass
class Seed:
    """What the fuzzer's requests may name, so handlers get past their lookups."""

    project_id: int = 0
    digest: str = ""
    user_id: int = 0
    member_id: int = 0
    robot_id: int = 0
    group_id: int = 0
    label_id: int = 0
    rule_id: int = 0
    quota_id: int = 0
    gc_job_id: int = 0
    purge_job_id: int = 0
    retention_id: int = 0
    execution_id: int = 0

    def query_values(self) -> dict[str, list[Any]]:
        return {
            "from": ["seed/team/app:v1", f"seed/team/app@{self.digest}"],
            "reference_id": ["seed", str(self.project_id)],
            "project_id": [self.project_id],
        }

    def path_values(self, path: str) -> dict[str, list[str]]:
        """Seeded values of the path parameters of the operation at ``path``."""
        return {
            "project_name_or_id": ["seed", str(self.project_id)],
            "project_name": ["seed"],
            "repository_name": ["team/app"],
            "reference": ["v1", self.digest],
            "tag_name": ["v1"],
            "mid": [str(self.member_id)],
            "user_id": [str(self.user_id)],
            "robot_id": [str(self.robot_id)],
            "group_id": [str(self.group_id)],
            "label_id": [str(self.label_id)],
            "immutable_rule_id": [str(self.rule_id)],
            "id": [str(self.retention_id if path.startswith("/retentions") else self.quota_id)],
            "job_id": [str(self.gc_job_id if path.startswith("/system/gc") else self.purge_job_id)],
            "eid": [str(self.execution_id)],
        }


_RULE = {
    "disabled": False,
    "priority": 0,
    "action": "immutable",
    "template": "immutable_template",
    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "locked-*"}],
    "scope_selectors": {
        "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
    },
}


def _retention(project_id: int) -> dict[str, Any]:
    return {
        "algorithm": "or",
        "scope": {"level": "project", "ref": project_id},
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "rules": [
            {
                "action": "retain",
                "template": "latestPushedK",
                "params": {"latestPushedK": 10},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            }
        ],
    }


def _id_from(r: httpx.Response) -> int:
    assert r.status_code == 201, r.text
    return int(r.headers["Location"].rsplit("/", 1)[1])


async def ensure_seed(berth: Berth, seed: Seed) -> None:
    """Create what is missing of the seed, and undo changes that would stand in the way."""
    async with api(berth) as a:
        defaults = {name: key.default for name, key in KEYS.items()}
        r = await a.put("/configurations", json=defaults)
        assert r.status_code == 200, r.text

        r = await a.get("/projects/seed")
        if r.status_code == 404:
            r = await a.post("/projects", json={"project_name": "seed"})
            seed.project_id = _id_from(r)
        else:
            assert r.status_code == 200, r.text
            seed.project_id = r.json()["project_id"]

        quotas = (await a.get("/quotas", params={"reference_id": str(seed.project_id)})).json()
        seed.quota_id = quotas[0]["id"]
        r = await a.put(f"/quotas/{seed.quota_id}", json={"hard": {"storage": -1}})
        assert r.status_code == 200, r.text

        rules = (await a.get("/projects/seed/immutabletagrules")).json()
        if rules:
            seed.rule_id = rules[0]["id"]
            for extra in rules[1:]:
                await a.delete(f"/projects/seed/immutabletagrules/{extra['id']}")
            r = await a.put(f"/projects/seed/immutabletagrules/{seed.rule_id}", json=_RULE)
            assert r.status_code == 200, r.text
        else:
            r = await a.post("/projects/seed/immutabletagrules", json=_RULE)
            seed.rule_id = _id_from(r)

        r = await a.get("/projects/seed/repositories/team%2Fapp/artifacts/v1")
        if r.status_code == 404:
            async with berth.client() as registry:
                seed.digest, _ = await push_image(registry, "seed/team/app", "v1", seed="seed")
        else:
            assert r.status_code == 200, r.text
            seed.digest = r.json()["digest"]

        r = await a.get("/users", params={"q": "username=seeduser"})
        found = r.json()
        if found:
            seed.user_id = found[0]["user_id"]
        else:
            r = await a.post(
                "/users",
                json={"username": "seeduser", "email": "seed@example.test", "password": PASSWORD},
            )
            seed.user_id = _id_from(r)
        members = (await a.get("/projects/seed/members", params={"entityname": "seeduser"})).json()
        if members:
            seed.member_id = members[0]["id"]
        else:
            r = await a.post(
                "/projects/seed/members",
                json={"role_id": 2, "member_user": {"username": "seeduser"}},
            )
            seed.member_id = _id_from(r)

        robots = (await a.get("/robots", params={"q": "name=seedbot"})).json()
        if robots:
            seed.robot_id = robots[0]["id"]
        else:
            r = await a.post(
                "/robots",
                json={
                    "name": "seedbot",
                    "level": "system",
                    "duration": -1,
                    "permissions": [
                        {
                            "kind": "project",
                            "namespace": "seed",
                            "access": [{"resource": "repository", "action": "pull"}],
                        }
                    ],
                },
            )
            assert r.status_code == 201, r.text
            seed.robot_id = r.json()["id"]

        groups = (await a.get("/usergroups/search", params={"groupname": "seedgroup"})).json()
        if groups:
            seed.group_id = groups[0]["id"]
        else:
            r = await a.post("/usergroups", json={"group_name": "seedgroup", "group_type": 2})
            seed.group_id = _id_from(r)

        labels = (await a.get("/labels", params={"name": "seedlabel"})).json()
        if labels:
            seed.label_id = labels[0]["id"]
        else:
            r = await a.post("/labels", json={"name": "seedlabel", "color": "#61717D"})
            seed.label_id = _id_from(r)
        r = await a.post(
            "/projects/seed/repositories/team%2Fapp/artifacts/v1/labels",
            json={"id": seed.label_id},
        )
        assert r.status_code in (200, 409), r.text

        for kind in ("gc", "purgeaudit"):
            runs = (await a.get(f"/system/{kind}", params={"page_size": 1})).json()
            if runs:
                job_id = runs[0]["id"]
            else:
                r = await a.post(f"/system/{kind}/schedule", json={"schedule": {"type": "Manual"}})
                job_id = _id_from(r)
            if kind == "gc":
                seed.gc_job_id = job_id
            else:
                seed.purge_job_id = job_id

        if (await a.get(f"/retentions/{seed.retention_id}")).status_code != 200:
            r = await a.post("/retentions", json=_retention(seed.project_id))
            seed.retention_id = _id_from(r)
        runs = (await a.get(f"/retentions/{seed.retention_id}/executions")).json()
        if runs:
            seed.execution_id = runs[0]["id"]
        else:
            r = await a.post(f"/retentions/{seed.retention_id}/executions", json={"dry_run": True})
            seed.execution_id = _id_from(r)


@dataclass(frozen=True)
class Finding:
    operation: str
    title: str
    status: int
    curl: str
    body: str

    def __str__(self) -> str:
        return (
            f"{self.operation}: {self.title} (HTTP {self.status})\n"
            f"    {self.curl}\n    -> {self.body[:400]}"
        )


def _template(route: Route) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)


def _answering(routes: list[BaseRoute], path: str, method: str) -> BaseRoute | None:
    """The route Starlette hands a request to: the first that matches path and method."""
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    return next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)


def addressing(routes: list[BaseRoute]) -> Callable[[AnyCase], bool]:
    """Whether a case's URL reaches the case's own operation. The server decodes ``%2F``, so
    a generated path parameter holding a slash (or a newline, which ``{name:path}`` does not
    match) addresses another operation, or none: such a request tests nothing here."""

    def addressed(case: AnyCase) -> bool:
        values = {k: str(v) for k, v in (case.path_parameters or {}).items()}
        try:
            path = PREFIX + case.path.format(**values)
        except (KeyError, IndexError, ValueError):
            return False
        route = _answering(routes, path, case.method.upper())
        return isinstance(route, Route) and _template(route) == PREFIX + case.path

    return addressed


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _stays_on_this_machine(case: AnyCase) -> bool:
    """Pinging a replication registry (and replicating to it) connects to the URL the body
    names; generated URLs may name any host, and tests reach only this machine."""
    body = case.body
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str):
        return True
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return True  # refused by Berth before any connection
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return True
    return host in _LOOPBACK


def stays_local(case: AnyCase) -> bool:
    """Whether the case leaves Berth's outbound settings on this machine: a generated
    ``audit_log_forward_endpoint`` could name any host, and audit events would be sent there."""
    body = case.body
    if case.path != "/configurations" or not isinstance(body, dict):
        return True
    endpoint = body.get("audit_log_forward_endpoint")
    return not isinstance(endpoint, str) or endpoint == "" or endpoint.startswith("127.0.0.1:")


def _fuzz(
    operation: APIOperation[Any, Any, Any, Any],
    seed: Seed,
    addressed: Callable[[AnyCase], bool],
    base_url: str,
    session: requests.Session,
    record: Callable[[Finding], None],
) -> Counter[int]:
    """Run the generated cases of one operation; how many answers of each status came."""
    in_path = {p.name for p in operation.path_parameters}
    in_query = {p.name for p in operation.query}
    path_seeds = {n: v for n, v in seed.path_values(operation.path).items() if n in in_path}
    query_seeds = {n: v for n, v in seed.query_values().items() if n in in_query}
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        if path_seeds or query_seeds:
            fixed = st.tuples(
                st.fixed_dictionaries({n: st.sampled_from(v) for n, v in path_seeds.items()}),
                st.fixed_dictionaries({n: st.sampled_from(v) for n, v in query_seeds.items()}),
            )

            def with_seeds(
                pq: tuple[dict[str, Any], dict[str, Any]], mode: GenerationMode = mode
            ) -> st.SearchStrategy[AnyCase]:
                return operation.as_strategy(
                    mode, path_parameters=pq[0] or None, query=pq[1] or None
                )

            strategies.append(fixed.flatmap(with_seeds))
    statuses: Counter[int] = Counter()
    auth = ("admin", ADMIN_PASSWORD)

    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=st.one_of(strategies)
        .filter(addressed)
        .filter(_stays_on_this_machine)
        .filter(stays_local)
    )
    def run(case: AnyCase) -> None:
        response = case.call(base_url=base_url, session=session, auth=auth, timeout=60)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, transport_kwargs={"base_url": base_url})
        except schemathesis.errors.FailureGroup as group:
            for failure in group.exceptions:
                record(
                    Finding(
                        operation=operation.label,
                        title=failure.title,
                        status=response.status_code,
                        curl=case.as_curl_command(base_url=base_url),
                        body=response.text,
                    )
                )

    run()
    return statuses


async def _wait_until_healthy(berth: Berth, within: float = 60.0) -> None:
    """/health is 503 until a job worker has reported in: the fuzzing would count that."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=berth.url) as client:
        while (await client.get(f"{PREFIX}/health")).status_code != 200:
            assert time.monotonic() < deadline, "Berth did not become healthy"
            await asyncio.sleep(0.5)


async def test_live_server_conforms_to_document(
    berth: Berth, job_worker: subprocess.Popen[bytes]
) -> None:
    await _wait_until_healthy(berth)
    schema = schemathesis.openapi.from_dict(_document())
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    seed = Seed()
    addressed = addressing(berth.app.routes)
    findings: dict[tuple[str, str, int], Finding] = {}

    def record(finding: Finding) -> None:
        findings.setdefault((finding.operation, finding.title, finding.status), finding)

    started = time.monotonic()
    tally: dict[str, tuple[Counter[int], float]] = {}
    with requests.Session() as session:
        changed = True
        for operation in operations:
            if changed:
                await ensure_seed(berth, seed)
            # Reading operations leave the seed as it is.
            changed = operation.method.upper() not in ("GET", "HEAD")
            began = time.monotonic()
            # schemathesis sends with requests, which blocks: off the loop the server runs on.
            statuses = await asyncio.to_thread(
                _fuzz, operation, seed, addressed, f"{berth.url}{PREFIX}", session, record
            )
            tally[operation.label] = (statuses, time.monotonic() - began)
    elapsed = time.monotonic() - started
    sent = sum(sum(statuses.values()) for statuses, _ in tally.values())
    print(f"\n{len(operations)} operations, {sent} requests, {elapsed:.0f}s")
    for label, (statuses, seconds) in tally.items():
        codes = " ".join(f"{k}x{n}" for k, n in sorted(statuses.items()))
        print(f"  {label}: {codes} ({seconds:.1f}s)")
    report = "\n".join(str(f) for f in findings.values())
    print(report)
    assert not findings, f"{len(findings)} distinct failures:\n{report}"
