"""The OpenAPI document of /api/v2.0: served, valid, complete, and true to the live server.

The last test fuzzes every documented operation with schemathesis against a real Berth that
holds a seed (a project with a pushed image, a user who is a member, a robot, a group, a
label on the artifact, an immutable tag rule). Each generated request either names random
resources or the seeded ones, so that handlers run their full path and not only their 404.
The seed is checked and repaired before each operation, since fuzzing the DELETE and PUT
operations of an operation may remove or change it; nothing is excluded from the run.
Any 5xx, undocumented status, wrong content type, missing list header or body that does not
match its schema fails the test, with every distinct failure and a curl line to reproduce it.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import openapi_spec_validator
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
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

PREFIX = "/api/v2.0"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Generated examples per operation and generation mode (positive, negative); each example
# names random resources or the seeded ones, half and half.
EXAMPLES = int(os.environ.get("BERTH_OPENAPI_EXAMPLES", "6"))
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
    ``{name}``, and the HEAD Starlette adds to every GET route is left out."""
    found = set()
    for route in berth.app.routes:
        if not isinstance(route, Route) or not route.path.startswith(PREFIX + "/"):
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
    openapi_spec_validator.validate(doc)
    schemathesis.openapi.from_dict(doc).validate()

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
    path_values: dict[str, list[str]] = field(default_factory=dict)

    def values(self) -> dict[str, list[str]]:
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
            "id": [str(self.quota_id)],
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


def addressing(routes: list[BaseRoute]) -> Callable[[Case], bool]:
    """Whether a case's URL reaches the case's own operation. The server decodes ``%2F``, so
    a generated path parameter holding a slash (or a newline, which ``{name:path}`` does not
    match) addresses another operation, or none: such a request tests nothing here."""

    def addressed(case: Case) -> bool:
        values = {k: str(v) for k, v in (case.path_parameters or {}).items()}
        try:
            path = PREFIX + case.path.format(**values)
        except (KeyError, IndexError, ValueError):
            return False
        route = _answering(routes, path, case.method.upper())
        return isinstance(route, Route) and _template(route) == PREFIX + case.path

    return addressed


def _fuzz(
    operation: Any,
    seed_values: dict[str, list[str]],
    addressed: Callable[[Case], bool],
    base_url: str,
    session: requests.Session,
    record: Callable[[Finding], None],
) -> int:
    """Run the generated cases of one operation; the number of requests sent."""
    names = [p.name for p in operation.path_parameters]
    seeded = {n: seed_values[n] for n in names if n in seed_values}
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        generated = operation.as_strategy(generation_mode=mode)
        strategies.append(generated)
        if seeded:
            fixed = st.fixed_dictionaries({n: st.sampled_from(v) for n, v in seeded.items()})
            strategies.append(
                fixed.flatmap(lambda p, mode=mode: operation.as_strategy(mode, path_parameters=p))
            )
    sent = 0
    auth = ("admin", ADMIN_PASSWORD)

    @settings(
        max_examples=EXAMPLES * len(strategies),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies).filter(addressed))
    def run(case: Case) -> None:
        nonlocal sent
        sent += 1
        response = case.call(base_url=base_url, session=session, auth=auth, timeout=60)
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
    return sent


async def test_live_server_conforms_to_document(berth: Berth) -> None:
    schema = schemathesis.openapi.from_dict(_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    seed = Seed()
    addressed = addressing(berth.app.routes)
    findings: dict[tuple[str, str, int], Finding] = {}

    def record(finding: Finding) -> None:
        findings.setdefault((finding.operation, finding.title, finding.status), finding)

    started, sent = time.monotonic(), 0
    with requests.Session() as session:
        for operation in operations:
            await ensure_seed(berth, seed)
            # schemathesis sends with requests, which blocks: off the loop the server runs on.
            sent += await asyncio.to_thread(
                _fuzz,
                operation,
                seed.values(),
                addressed,
                f"{berth.url}{PREFIX}",
                session,
                record,
            )
    elapsed = time.monotonic() - started
    report = "\n".join(str(f) for f in findings.values())
    print(f"\n{len(operations)} operations, {sent} requests, {elapsed:.0f}s\n{report}")
    assert not findings, f"{len(findings)} distinct failures:\n{report}"


pytestmark = pytest.mark.timeout(900)
