"""Who may call what: every kind of caller a Harbor user knows, route by route.

Each test seeds a private project "matrix" holding matrix/app:v1, one member per project role
(project admin, maintainer, developer, guest, limited guest), a user who is no member, a system
administrator, a project robot that may only pull, and anonymous; then it sends the case's
request once as each of them and compares with Harbor's rules (src/common/rbac/project/
rbac_role.go and the v2.0 handlers). An allowed caller must succeed (every case is set up so
that it can: a 404 or 409 would leave the action untested, and it is neither 401 nor 403); a
refused one gets 401 when anonymous and 403 otherwise, except on /v2/, where the registry
answers 401 (insufficient_scope) to everyone it refuses. A request that uses something up
(deletes it, say) works on a throwaway object that is made, as admin, before the first caller
and again after every caller who succeeded.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from registry.auth.password import hash_password
from registry.db import users
from tests.integration.api.conftest import Berth
from tests.integration.api.oci import push_image
from tests.integration.api.test_identity import PASSWORD, add_member, api, make_project

PROJECT = "matrix"
ROLES = {"projectadmin": 1, "maintainer": 4, "developer": 2, "guest": 3, "limitedguest": 5}
PRINCIPALS = ("sysadmin", *ROLES, "outsider", "robot", "anonymous")

EVERYONE = frozenset(PRINCIPALS)
AUTHENTICATED = EVERYONE - {"anonymous"}
SYSADMIN = frozenset({"sysadmin"})
PROJECT_ADMINS = SYSADMIN | {"projectadmin"}
MAINTAINERS = PROJECT_ADMINS | {"maintainer"}
DEVELOPERS = MAINTAINERS | {"developer"}
GUESTS = DEVELOPERS | {"guest"}
MEMBERS = GUESTS | {"limitedguest"}
# Berth lets a robot that may pull also read the project, its repositories and artifacts
# (registry.rbac.robot_actions); a Harbor robot needs explicit project/artifact read grants.
READERS = MEMBERS | {"robot"}

Vars = dict[str, Any]


@dataclass
class World:
    berth: Berth
    vars: Vars


Prepare = Callable[[World, str], Awaitable[Vars]]


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: Any
    allowed: frozenset[str]
    prepare: Prepare | None = None

    @property
    def registry(self) -> bool:
        return self.path.startswith("/v2/")


# --- seeding ---------------------------------------------------------------------------------


def robot_body(project: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "level": "project",
        "duration": -1,
        "permissions": [
            {
                "kind": "project",
                "namespace": project,
                "access": [{"resource": "repository", "action": "pull"}],
            }
        ],
    }


async def create_robot(berth: Berth, project: str, name: str) -> tuple[int, tuple[str, str]]:
    async with api(berth) as a:
        r = await a.post("/robots", json=robot_body(project, name))
        assert r.status_code == 201, r.text
        robot = r.json()
        return int(robot["id"]), (robot["name"], robot["secret"])


async def seed_project(berth: Berth, name: str) -> tuple[str, str]:
    """A private project with every role's member (and "extra" as a guest) and a pull-only
    robot, whose credentials it returns."""
    await make_project(berth, name)
    for user, role in [*ROLES.items(), ("extra", 3)]:
        await add_member(berth, name, user, role)
    _, robot = await create_robot(berth, name, "puller")
    return robot


async def member_id(berth: Berth, username: str) -> int | None:
    async with api(berth) as a:
        r = await a.get(f"/projects/{PROJECT}/members", params={"entityname": username})
        assert r.status_code == 200, r.text
        return next((int(m["id"]) for m in r.json() if m["entity_name"] == username), None)


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


async def make_users(berth: Berth, names: list[str]) -> dict[str, int]:
    """Plain accounts, written with the server's own data layer and one precomputed password
    hash: through POST /users each costs a scrypt hash, and every test here needs eight. They
    still sign in through the real login, which checks the hash."""
    conn = await asyncpg.connect(berth.database_url)
    try:
        return {
            name: await users.create(
                conn, name, password_hash(), email=f"{name}@example.test", realname=name.title()
            )
            for name in names
        }
    finally:
        await conn.close()


async def seed(berth: Berth) -> World:
    ids = await make_users(berth, [*ROLES, "outsider", "extra", "sysadmin"])
    async with api(berth) as a:
        r = await a.put(f"/users/{ids['sysadmin']}/sysadmin", json={"sysadmin_flag": True})
        assert r.status_code == 200, r.text
    robot = await seed_project(berth, PROJECT)
    async with berth.client() as admin:
        await push_image(admin, f"{PROJECT}/app", "v1")
    async with api(berth) as a:
        r = await a.get("/quotas", params={"reference_id": PROJECT})
        assert r.status_code == 200, r.text
        quota = r.json()[0]
        r = await a.get("/robots", params={"q": "Level=project"})
        assert r.status_code == 200, r.text
        robot_id = next(x["id"] for x in r.json() if x["name"] == robot[0])
    return World(
        berth,
        {
            "pid": quota["ref"]["id"],
            "mid": await member_id(berth, "extra"),
            "robot_id": robot_id,
            "robot_creds": robot,
            "quota": quota["id"],
        },
    )


# --- throwaway objects, made as admin before each caller -------------------------------------


async def fresh_project(world: World, who: str) -> Vars:
    name = f"doomed-{who}"
    robot = await seed_project(world.berth, name)
    return {"doomed": name, "robot_creds": robot}


async def fresh_member(world: World, who: str) -> Vars:
    found = await member_id(world.berth, "extra")
    if found is None:
        async with api(world.berth) as a:
            r = await a.post(
                f"/projects/{PROJECT}/members",
                json={"role_id": 3, "member_user": {"username": "extra"}},
            )
            assert r.status_code == 201, r.text
        found = int(r.headers["Location"].rsplit("/", 1)[1])
    return {"mid": found}


async def absent_member(world: World, who: str) -> Vars:
    found = await member_id(world.berth, "extra")
    if found is not None:
        async with api(world.berth) as a:
            r = await a.delete(f"/projects/{PROJECT}/members/{found}")
            assert r.status_code == 200, r.text
    return {}


async def fresh_robot(world: World, who: str) -> Vars:
    robot_id, _ = await create_robot(world.berth, PROJECT, f"doomed-{who}")
    return {"doomed_robot": robot_id}


async def fresh_repository(world: World, who: str) -> Vars:
    repository = f"doomed-{who}"
    async with world.berth.client() as admin:
        digest, _ = await push_image(admin, f"{PROJECT}/{repository}", "v1", seed=who)
    return {"repo": repository, "doomed_digest": digest}


async def fresh_tag(world: World, who: str) -> Vars:
    tag = f"doomed-{who}"
    async with api(world.berth) as a:
        r = await a.post(
            f"/projects/{PROJECT}/repositories/app/artifacts/v1/tags", json={"name": tag}
        )
        assert r.status_code == 201, r.text
    return {"doomed_tag": tag}


async def fresh_label(world: World, who: str) -> Vars:
    async with api(world.berth) as a:
        r = await a.post("/labels", json={"name": f"label-{who}", "scope": "g"})
        assert r.status_code == 201, r.text
        return {"label": int(r.headers["Location"].rsplit("/", 1)[1])}


async def fresh_project_label(world: World, who: str) -> Vars:
    async with api(world.berth) as a:
        r = await a.post(
            "/labels",
            json={"name": f"doomed-{who}", "scope": "p", "project_id": world.vars["pid"]},
        )
        assert r.status_code == 201, r.text
        return {"plabel": int(r.headers["Location"].rsplit("/", 1)[1])}


async def attached_label(world: World, who: str) -> Vars:
    found = await fresh_label(world, who)
    async with api(world.berth) as a:
        r = await a.post(
            f"/projects/{PROJECT}/repositories/app/artifacts/v1/labels", json={"id": found["label"]}
        )
        assert r.status_code == 200, r.text
    return found


def rule(tag: str) -> dict[str, Any]:
    return {
        "disabled": False,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tag}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }


async def fresh_rule(world: World, who: str) -> Vars:
    async with api(world.berth) as a:
        r = await a.post(f"/projects/{PROJECT}/immutabletagrules", json=rule(f"frozen-{who}"))
        assert r.status_code == 201, r.text
        return {"rule": int(r.headers["Location"].rsplit("/", 1)[1])}


# --- the table -------------------------------------------------------------------------------

_P = "/projects/{pid}"
_REPO = f"/projects/{PROJECT}/repositories"
_ART = f"{_REPO}/app/artifacts/v1"

CASES = [
    # Projects: reading is for members; changing and deleting for the project admin.
    Case("get-project", "GET", _P, None, READERS),
    Case("update-project", "PUT", _P, {"metadata": {"public": "false"}}, PROJECT_ADMINS),
    Case("project-deletable", "GET", f"{_P}/_deletable", None, PROJECT_ADMINS),
    Case("project-summary", "GET", f"{_P}/summary", None, READERS),
    Case("delete-project", "DELETE", "/projects/{doomed}", None, PROJECT_ADMINS, fresh_project),
    Case(
        "create-project",
        "POST",
        "/projects",
        {"project_name": "new-{who}", "metadata": {"public": "false"}},
        AUTHENTICATED - {"robot"},
    ),
    # Members: limited guests see no members; only the project admin manages them.
    Case("list-members", "GET", f"{_P}/members", None, GUESTS),
    Case("get-member", "GET", f"{_P}/members/{{mid}}", None, GUESTS),
    Case(
        "add-member",
        "POST",
        f"{_P}/members",
        {"role_id": 3, "member_user": {"username": "extra"}},
        PROJECT_ADMINS,
        absent_member,
    ),
    Case("update-member", "PUT", f"{_P}/members/{{mid}}", {"role_id": 3}, PROJECT_ADMINS),
    Case("delete-member", "DELETE", f"{_P}/members/{{mid}}", None, PROJECT_ADMINS, fresh_member),
    # Logs: guest and up; everyone signed in reads the audit log, filtered to their projects.
    Case("project-logs", "GET", f"{_P}/logs", None, GUESTS),
    Case("audit-logs", "GET", "/audit-logs", None, AUTHENTICATED),
    # Robots: Harbor gives robot read and list to guest and up, the rest to the project admin.
    Case("list-project-robots", "GET", "/robots?q=Level=project,ProjectID={pid}", None, GUESTS),
    Case("get-robot", "GET", "/robots/{robot_id}", None, GUESTS),
    Case("create-robot", "POST", "/robots", robot_body(PROJECT, "new-{who}"), PROJECT_ADMINS),
    Case(
        "update-robot",
        "PUT",
        "/robots/{robot_id}",
        {"description": "pulls", "disable": False, "duration": -1},
        PROJECT_ADMINS,
    ),
    Case("refresh-robot", "PATCH", "/robots/{doomed_robot}", {}, PROJECT_ADMINS, fresh_robot),
    Case("delete-robot", "DELETE", "/robots/{doomed_robot}", None, PROJECT_ADMINS, fresh_robot),
    # Repositories.
    Case("list-repositories", "GET", _REPO, None, READERS),
    Case("get-repository", "GET", f"{_REPO}/app", None, READERS),
    Case("update-repository", "PUT", f"{_REPO}/app", {"description": "the app"}, DEVELOPERS),
    Case("delete-repository", "DELETE", f"{_REPO}/{{repo}}", None, MAINTAINERS, fresh_repository),
    # Artifacts, tags and labels on artifacts.
    Case("list-artifacts", "GET", f"{_REPO}/app/artifacts", None, READERS),
    Case("get-artifact", "GET", _ART, None, READERS),
    Case(
        "delete-artifact",
        "DELETE",
        f"{_REPO}/{{repo}}/artifacts/{{doomed_digest}}",
        None,
        MAINTAINERS,
        fresh_repository,
    ),
    Case("list-tags", "GET", f"{_ART}/tags", None, READERS),
    Case("create-tag", "POST", f"{_ART}/tags", {"name": "tag-{who}"}, DEVELOPERS),
    Case("delete-tag", "DELETE", f"{_ART}/tags/{{doomed_tag}}", None, MAINTAINERS, fresh_tag),
    Case(
        "add-artifact-label", "POST", f"{_ART}/labels", {"id": "{label}"}, DEVELOPERS, fresh_label
    ),
    Case(
        "remove-artifact-label",
        "DELETE",
        f"{_ART}/labels/{{label}}",
        None,
        DEVELOPERS,
        attached_label,
    ),
    # Project labels: Harbor lets guest and up list them, maintainers and up manage them.
    Case("list-project-labels", "GET", "/labels?scope=p&project_id={pid}", None, GUESTS),
    Case(
        "create-project-label",
        "POST",
        "/labels",
        {"name": "label-{who}", "scope": "p", "project_id": "{pid}"},
        MAINTAINERS,
    ),
    Case("get-project-label", "GET", "/labels/{plabel}", None, GUESTS, fresh_project_label),
    Case(
        "update-project-label",
        "PUT",
        "/labels/{plabel}",
        {"description": "changed"},
        MAINTAINERS,
        fresh_project_label,
    ),
    Case(
        "delete-project-label",
        "DELETE",
        "/labels/{plabel}",
        None,
        MAINTAINERS,
        fresh_project_label,
    ),
    # Immutable tag rules: Harbor's immutable-tag list, create, update and delete are all
    # maintainer and up.
    Case("list-immutable-rules", "GET", f"{_P}/immutabletagrules", None, MAINTAINERS),
    Case(
        "create-immutable-rule",
        "POST",
        f"{_P}/immutabletagrules",
        rule("new-{who}"),
        MAINTAINERS,
    ),
    Case(
        "update-immutable-rule",
        "PUT",
        f"{_P}/immutabletagrules/{{rule}}",
        {"disabled": True},
        MAINTAINERS,
        fresh_rule,
    ),
    Case(
        "delete-immutable-rule",
        "DELETE",
        f"{_P}/immutabletagrules/{{rule}}",
        None,
        MAINTAINERS,
        fresh_rule,
    ),
    # Quotas: Harbor 2.x's /quotas wants system access throughout; Berth also lets whoever
    # reads a project read that project's quota (?reference_id=), which Harbor's summary
    # shows them anyway. All quotas, and changing one, are for system administrators.
    Case("project-quota", "GET", "/quotas?reference_id={pid}", None, READERS),
    Case("all-quotas", "GET", "/quotas", None, SYSADMIN),
    Case("update-quota", "PUT", "/quotas/{quota}", {"hard": {"storage": -1}}, SYSADMIN),
    # System.
    Case("get-configurations", "GET", "/configurations", None, SYSADMIN),
    Case(
        "put-configurations",
        "PUT",
        "/configurations",
        {"project_creation_restriction": "everyone"},
        SYSADMIN,
    ),
    Case("list-users", "GET", "/users", None, SYSADMIN),
    Case("statistics", "GET", "/statistics", None, AUTHENTICATED),
    # The registry, through token auth as docker does it.
    Case("registry-pull", "GET", f"/v2/{PROJECT}/app/manifests/v1", None, READERS),
    Case("registry-push", "POST", f"/v2/{PROJECT}/app/blobs/uploads/", None, DEVELOPERS),
    Case(
        "registry-delete",
        "DELETE",
        f"/v2/{PROJECT}/{{repo}}/manifests/{{doomed_digest}}",
        None,
        MAINTAINERS,
        fresh_repository,
    ),
]

# --- running a case --------------------------------------------------------------------------

_WHOLE = re.compile(r"^\{(\w+)\}$")


def fill(value: Any, variables: Vars) -> Any:
    """``value`` with its "{name}" placeholders filled; a string that is only a placeholder
    takes the variable's own type (an id stays an int)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        return variables[whole.group(1)] if whole else value.format(**variables)
    if isinstance(value, dict):
        return {k: fill(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, variables) for v in value]
    return value


def credentials(who: str, variables: Vars) -> tuple[str, str] | None:
    if who == "anonymous":
        return None
    if who == "robot":
        creds: tuple[str, str] = variables["robot_creds"]
        return creds
    return (who, PASSWORD)


async def send(berth: Berth, case: Case, who: str, variables: Vars) -> httpx.Response:
    creds = credentials(who, variables)
    path = fill(case.path, variables)
    body = fill(case.body, variables)
    client = berth.client(creds) if case.registry else api(berth, creds)
    async with client as c:
        return await c.request(case.method, path, json=body)


def mismatch(case: Case, who: str, response: httpx.Response) -> str | None:
    status = response.status_code
    if who in case.allowed:
        if not response.is_success:
            return f"{who}: {status}, expected to be allowed; {response.text[:300]}"
        return None
    expected = 401 if case.registry or who == "anonymous" else 403
    if status != expected:
        return f"{who}: {status}, expected {expected}; {response.text[:300]}"
    return None


def test_table_is_well_formed() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    for case in CASES:
        assert case.allowed <= EVERYONE, case.id
        assert "sysadmin" in case.allowed, case.id
        assert "anonymous" not in case.allowed, case.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_authorization(berth: Berth, case: Case) -> None:
    world = await seed(berth)
    variables = dict(world.vars)
    problems = []
    consumed = True
    for who in PRINCIPALS:
        # A throwaway object is made again once a caller has used it up (deleted it, say).
        if case.prepare is not None and consumed:
            variables.update(await case.prepare(world, who))
        variables["who"] = who
        response = await send(berth, case, who, variables)
        consumed = response.is_success
        found = mismatch(case, who, response)
        if found:
            problems.append(found)
    where = f"{case.method} {case.path}"
    assert not problems, f"{where}:\n" + "\n".join(problems)
