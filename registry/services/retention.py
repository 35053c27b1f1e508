"""Tag retention, with Harbor's semantics.

A project has at most one policy: a list of rules OR-ed together. A rule applies to the
repositories its scope selectors select (their path without the project, as for immutable
tags) and, in each, to the artifacts its tag selectors select; its template then picks which
of those to *retain*. In a repository at least one enabled rule applies to, every artifact no
rule retains is deleted — untagged ones too, unless a rule selects them
(``extras: {"untagged": true}``) and retains them — except artifacts with an immutable tag,
which are kept and reported. Retention judges artifacts, not tags: an artifact one of whose
tags is retained keeps all its tags. Index children and accessories are not judged; they go
with what holds them.

Selectors are Harbor's doublestar selectors: ``matches`` selects an artifact when one of its
tags matches, ``excludes`` when one of its tags does not; an untagged artifact is selected per
the selector's ``untagged`` extra, which defaults to true for ``matches`` and false for
``excludes`` when no extras are given (Harbor's upgrade default). Several selectors of a kind
must all select.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from registry.auth.principal import Principal
from registry.db import retention as retention_db
from registry.db import retention_tags
from registry.query import ListQuery
from registry.rbac import ProjectRef
from registry.services import cron, read_cache
from registry.services import jobs as job_service
from registry.services.artifact import remove_artifacts
from registry.services.audit import AuditEvent
from registry.services.context import Backends
from registry.services.errors import (
    PolicyExists,
    RegistryError,
    ResourceUnknown,
    RetentionPolicyInvalid,
    RuleConflict,
    RuleInvalid,
)
from registry.services.immutability import (
    REPOSITORY_DECORATIONS,
    REPOSITORY_SCOPE,
    TAG_DECORATIONS,
    doublestar_match,
    immutable_tags,
    validate_selectors,
)

log = logging.getLogger(__name__)

EXECUTION_KIND = "RETENTION"
TASK_KIND = "RETENTION_TASK"
ALGORITHM = "or"
ACTION = "retain"
SCOPE_LEVEL = "project"
TRIGGER_KIND = "Schedule"
MAX_RULES = 15  # Harbor's limit per project
MAX_PARAMETER = 2**15 - 1  # Harbor refuses a count or a number of days from math.MaxInt16 up
SELECTOR_KIND = "doublestar"
# How a policy judges (a Berth extension, "mode" in the policy): Harbor's way, whole artifacts
# (one no rule retains is deleted with all its tags), or tag by tag (a tag no rule retains is
# removed; its artifact stays, and goes with garbage collection's delete_untagged if no tag
# is left).
ARTIFACT_MODE = "artifact"
TAG_MODE = "tag"
MODES = (ARTIFACT_MODE, TAG_MODE)

Log = Callable[[str], Awaitable[None]]
ShouldStop = Callable[[], Awaitable[bool]]

_NEVER = datetime.min.replace(tzinfo=UTC)


# --- what artifacts look like to a rule --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    id: int
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    pulled_at: datetime | None = None

    @property
    def active_at(self) -> datetime:
        """The later of the last push and the last pull."""
        return max(self.pushed_at, self.pulled_at or _NEVER)


@dataclass(frozen=True, slots=True)
class Template:
    """A way to pick what to retain: the most recent ``k`` by some time (COUNT), or those whose
    time is within the last ``x`` days (DAYS), or everything."""

    name: str
    display_text: str
    unit: str | None
    time: Callable[[Candidate], datetime | None]

    def retain(self, selected: Sequence[Candidate], value: int, now: datetime) -> list[Candidate]:
        if self.unit is None:
            return list(selected)
        if self.unit == "COUNT":
            # Most recent first; ties go to the later push, then to the newer record.
            ordered = sorted(
                selected,
                key=lambda c: (self.time(c) or _NEVER, c.pushed_at, c.id),
                reverse=True,
            )
            return ordered[:value]
        cutoff = now - timedelta(days=value)
        return [c for c in selected if (moment := self.time(c)) is not None and moment > cutoff]


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        # Harbor's current templates, in the order its metadata lists them …
        Template(
            "latestPushedK", "the most recently pushed # artifacts", "COUNT", lambda c: c.pushed_at
        ),
        Template(
            "latestPulledN", "the most recently pulled # artifacts", "COUNT", lambda c: c.pulled_at
        ),
        Template(
            "nDaysSinceLastPush", "pushed within the last # days", "DAYS", lambda c: c.pushed_at
        ),
        Template(
            "nDaysSinceLastPull", "pulled within the last # days", "DAYS", lambda c: c.pulled_at
        ),
        Template("always", "always", None, lambda c: c.pushed_at),
        # … and the two its evaluator still runs for older policies.
        Template(
            "latestActiveK",
            "the most recently pushed or pulled # artifacts",
            "COUNT",
            lambda c: c.active_at,
        ),
        Template(
            "lastXDays",
            "the artifacts pushed within the last # days",
            "DAYS",
            lambda c: c.pushed_at,
        ),
    )
}


def metadata() -> dict[str, Any]:
    """``GET /retentions/metadatas``: the templates, scope selectors and tag selectors."""
    return {
        "templates": [
            {
                "rule_template": t.name,
                "display_text": t.display_text,
                "action": ACTION,
                "params": []
                if t.unit is None
                else [{"type": "int", "unit": t.unit, "required": True}],
            }
            for t in TEMPLATES.values()
        ],
        "scope_selectors": [
            {
                "display_text": "Repositories",
                "kind": SELECTOR_KIND,
                "decorations": list(REPOSITORY_DECORATIONS),
            }
        ],
        "tag_selectors": [
            {"display_text": "Tags", "kind": SELECTOR_KIND, "decorations": list(TAG_DECORATIONS)}
        ],
    }


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    decoration: str
    pattern: str
    extras: str | None = None

    @property
    def untagged(self) -> bool:
        """Whether an untagged artifact is "matched": Harbor defaults to yes for ``matches``
        and no for ``excludes``; extras that parse set it (a missing key is false)."""
        if self.extras:
            try:
                parsed = json.loads(self.extras)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed.get("untagged") is True
        return self.decoration != "excludes"

    def selects_repository(self, path: str) -> bool:
        matched = doublestar_match(self.pattern, path)
        return matched if self.decoration == "repoMatches" else not matched

    def selects(self, candidate: Candidate) -> bool:
        if not candidate.tags:
            return self.untagged if self.decoration == "matches" else not self.untagged
        if self.decoration == "matches":
            return any(doublestar_match(self.pattern, tag) for tag in candidate.tags)
        return any(not doublestar_match(self.pattern, tag) for tag in candidate.tags)

    def to_json(self) -> dict[str, str]:
        found = {"kind": SELECTOR_KIND, "decoration": self.decoration, "pattern": self.pattern}
        if self.extras is not None:
            found["extras"] = self.extras
        return found

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Selector:
        extras = raw.get("extras")
        return cls(raw["decoration"], raw["pattern"], extras if isinstance(extras, str) else None)


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    template: str
    value: int = 0  # the template's parameter (a count or a number of days)
    tag_selectors: tuple[Selector, ...] = ()
    repository_selectors: tuple[Selector, ...] = ()
    disabled: bool = False
    priority: int = 0

    def applies_to(self, repository_path: str) -> bool:
        """Whether the rule judges the repository (its path without the project)."""
        return not self.disabled and all(
            s.selects_repository(repository_path) for s in self.repository_selectors
        )

    def select(self, candidates: Iterable[Candidate]) -> list[Candidate]:
        return [c for c in candidates if all(s.selects(c) for s in self.tag_selectors)]

    def retain(self, candidates: Iterable[Candidate], now: datetime) -> list[Candidate]:
        """The candidates this rule retains."""
        return TEMPLATES[self.template].retain(self.select(candidates), self.value, now)

    def describe(self) -> str:
        text = TEMPLATES[self.template].display_text.replace("#", str(self.value))
        return f"rule {self.id} ({text})"

    def to_json(self) -> dict[str, Any]:
        unit = TEMPLATES[self.template].unit
        return {
            "id": self.id,
            "priority": self.priority,
            "disabled": self.disabled,
            "action": ACTION,
            "template": self.template,
            "params": {} if unit is None else {self.template: self.value},
            "tag_selectors": [s.to_json() for s in self.tag_selectors],
            "scope_selectors": {REPOSITORY_SCOPE: [s.to_json() for s in self.repository_selectors]},
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Rule:
        """A rule as stored (validated when it came in)."""
        template = raw["template"]
        value = (raw.get("params") or {}).get(template, 0)
        return cls(
            id=int(raw.get("id") or 0),
            template=template,
            value=int(value),
            tag_selectors=tuple(Selector.from_json(s) for s in raw.get("tag_selectors") or ()),
            repository_selectors=tuple(
                Selector.from_json(s)
                for s in (raw.get("scope_selectors") or {}).get(REPOSITORY_SCOPE, ())
            ),
            disabled=bool(raw.get("disabled", False)),
            priority=int(raw.get("priority") or 0),
        )


@dataclass(frozen=True, slots=True)
class Policy:
    id: int
    project_id: int
    rules: tuple[Rule, ...]
    cron: str = ""  # "" when the policy runs only on demand
    mode: str = ARTIFACT_MODE

    def applies_to(self, repository_path: str) -> bool:
        return any(rule.applies_to(repository_path) for rule in self.rules)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "algorithm": ALGORITHM,
            "rules": [rule.to_json() for rule in self.rules],
            "trigger": trigger_json(self.cron),
            "scope": {"level": SCOPE_LEVEL, "ref": self.project_id},
            "mode": self.mode,
        }


def trigger_json(cron_text: str) -> dict[str, Any]:
    return {"kind": TRIGGER_KIND, "settings": {"cron": cron_text}}


# --- judging one repository (pure) -------------------------------------------------------------

RETAINED = "retained"
DELETED = "deleted"
WOULD_DELETE = "would delete"
IMMUTABLE = "immutable"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Verdict:
    candidate: Candidate
    retained_by: tuple[int, ...] = ()  # ids of the rules that retain it
    immutable: tuple[str, ...] = ()  # its immutable tags, when no rule retains it

    @property
    def delete(self) -> bool:
        return not self.retained_by and not self.immutable


def judge(
    rules: Iterable[Rule],
    repository_path: str,
    candidates: Iterable[Candidate],
    now: datetime,
    protected: Iterable[str] = (),
) -> list[Verdict]:
    """What happens to each artifact of a repository (its path without the project), most
    recently pushed first; ``protected`` are the repository's immutable tags. Nothing is
    judged in a repository no enabled rule applies to."""
    applicable = [rule for rule in rules if rule.applies_to(repository_path)]
    if not applicable:
        return []
    candidates = list(candidates)
    retained_by: dict[int, list[int]] = {}
    for rule in applicable:  # OR: retained by any rule is retained
        for kept in rule.retain(candidates, now):
            retained_by.setdefault(kept.id, []).append(rule.id)
    locked_tags = frozenset(protected)
    verdicts = []
    for c in sorted(candidates, key=lambda c: (c.pushed_at, c.id), reverse=True):
        rule_ids = tuple(retained_by.get(c.id, ()))
        locked = () if rule_ids else tuple(t for t in c.tags if t in locked_tags)
        verdicts.append(Verdict(c, rule_ids, locked))
    return verdicts


# --- validation of what the API receives -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy as a client described it, validated."""

    project_id: int | None  # scope.ref; None when the body names no scope
    rules: tuple[Rule, ...]
    cron: str
    mode: str = ARTIFACT_MODE


def _integer(value: object) -> int | None:
    """A JSON integer (Harbor also takes a whole float or a numeric string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _extras(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):  # Harbor sends a JSON string; an object is taken as well
        value = json.dumps(value, separators=(",", ":"))
    if not isinstance(value, str):
        raise RetentionPolicyInvalid(f"{where}: extras must be a JSON string")
    if value:
        try:
            parsed = json.loads(value)
        except ValueError:
            raise RetentionPolicyInvalid(f"{where}: extras must be a JSON object") from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("untagged", False), bool):
            raise RetentionPolicyInvalid(f'{where}: extras must be like {{"untagged": true}}')
    return value


def _rule(raw: object, position: int) -> Rule:
    where = f"rule {position}"
    if not isinstance(raw, dict):
        raise RetentionPolicyInvalid(f"{where} must be an object")
    if raw.get("action") not in (None, "", ACTION):
        raise RetentionPolicyInvalid(f"{where}: action must be {ACTION!r}")
    template_name = raw.get("template")
    template = TEMPLATES.get(template_name) if isinstance(template_name, str) else None
    if template is None:
        raise RetentionPolicyInvalid(f"{where}: unknown template {template_name!r}")
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        raise RetentionPolicyInvalid(f"{where}: disabled must be a boolean")
    priority = _integer(raw.get("priority", 0))
    if priority is None or abs(priority) > 2**31 - 1:
        raise RetentionPolicyInvalid(f"{where}: priority must be an integer")
    params = raw.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RetentionPolicyInvalid(f"{where}: params must be an object")
    value = 0
    if template.unit is not None:
        if template.name not in params:
            raise RetentionPolicyInvalid(f"{where}: params.{template.name} is required")
        found = _integer(params[template.name])
        if found is None or not 0 <= found < MAX_PARAMETER:
            raise RetentionPolicyInvalid(
                f"{where}: params.{template.name} must be an integer from 0 to {MAX_PARAMETER - 1}"
            )
        value = found
    tag_selectors = raw.get("tag_selectors")
    scope_selectors = raw.get("scope_selectors")
    extras: dict[int, str | None] = {}
    if isinstance(tag_selectors, list):
        for i, item in enumerate(tag_selectors):
            if isinstance(item, dict) and "extras" in item:
                extras[i] = _extras(item["extras"], f"{where}: tag_selectors")
    try:
        tags, scope = validate_selectors(tag_selectors, scope_selectors)
    except RuleInvalid as exc:
        raise RetentionPolicyInvalid(f"{where}: {exc.message}") from None
    return Rule(
        id=position,
        template=template.name,
        value=value,
        tag_selectors=tuple(
            Selector(s["decoration"], s["pattern"], extras.get(i)) for i, s in enumerate(tags)
        ),
        repository_selectors=tuple(
            Selector(s["decoration"], s["pattern"]) for s in scope[REPOSITORY_SCOPE]
        ),
        disabled=disabled,
        priority=priority,
    )


def _cron(trigger: object) -> str:
    if trigger is None:
        return ""
    if not isinstance(trigger, dict) or trigger.get("kind") != TRIGGER_KIND:
        raise RetentionPolicyInvalid(
            f'trigger must be {{"kind": "{TRIGGER_KIND}", "settings": {{…}}}}'
        )
    settings = trigger.get("settings")
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise RetentionPolicyInvalid("trigger.settings must be an object")
    text = settings.get("cron") or ""
    if not isinstance(text, str):
        raise RetentionPolicyInvalid("trigger.settings.cron must be a string")
    text = text.strip()
    if text:
        try:
            cron.parse(text)
            cron.next_after(text, datetime.now(UTC))
        except cron.CronInvalid as exc:
            raise RetentionPolicyInvalid(f"trigger.settings.cron: {exc}") from None
    return text


def parse_policy(body: Mapping[str, Any]) -> PolicySpec:
    """A Harbor ``RetentionPolicy`` validated: :class:`RetentionPolicyInvalid` or
    :class:`RuleConflict` when it is not acceptable. Rules are numbered 1… in the order given."""
    if body.get("algorithm") not in (None, "", ALGORITHM):
        raise RetentionPolicyInvalid(f"algorithm must be {ALGORITHM!r}")
    project_id = None
    scope = body.get("scope")
    if scope is not None:
        if not isinstance(scope, dict):
            raise RetentionPolicyInvalid("scope must be an object")
        if scope.get("level") != SCOPE_LEVEL:
            raise RetentionPolicyInvalid(
                f"scope {scope.get('level')!r} is not supported: use 'project'"
            )
        project_id = _integer(scope.get("ref"))
        if project_id is None or project_id <= 0:
            raise RetentionPolicyInvalid(f"invalid project id {scope.get('ref')!r}")
    raw_rules = body.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise RetentionPolicyInvalid("rules must be a list")
    if len(raw_rules) > MAX_RULES:
        raise RetentionPolicyInvalid(f"only {MAX_RULES} rules are allowed at most")
    rules = tuple(_rule(raw, n) for n, raw in enumerate(raw_rules, start=1))
    seen: dict[str, int] = {}
    for rule in rules:
        key = json.dumps({**rule.to_json(), "id": 0}, sort_keys=True)
        if key in seen:
            raise RuleConflict(f"rule {rule.id} is the same as rule {seen[key]}")
        seen[key] = rule.id
    mode = body.get("mode") or ARTIFACT_MODE
    if mode not in MODES:
        raise RetentionPolicyInvalid(f"mode must be one of {', '.join(MODES)}")
    return PolicySpec(project_id, rules, _cron(body.get("trigger")), mode)


# --- the database side -------------------------------------------------------------------------


def _policy_of(row: asyncpg.Record) -> Policy:
    trigger = row["trigger"] or {}
    return Policy(
        id=row["id"],
        project_id=row["project_id"],
        rules=tuple(Rule.from_json(r) for r in row["rules"] or ()),
        cron=str((trigger.get("settings") or {}).get("cron") or ""),
        mode=row["mode"],
    )


async def load_policy(b: Backends, policy_id: int) -> Policy | None:
    row = await retention_db.get(b.db, policy_id)
    return None if row is None else _policy_of(row)


async def project_of(b: Backends, policy: Policy) -> ProjectRef:
    row = await retention_db.project(b.db, policy.project_id)
    if row is None:  # the policy goes with its project (ON DELETE CASCADE)
        raise RegistryError(f"the project of retention policy {policy.id} is gone")
    return ProjectRef(row["id"], row["name"], row["public"], row["created_at"])


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    name: str  # full name, project first

    @property
    def path(self) -> str:
        """The name without the project: what scope selectors see."""
        return self.name.partition("/")[2]


async def repositories_in_scope(b: Backends, policy: Policy) -> list[Repository]:
    """The project's repositories at least one enabled rule applies to, by name."""
    rows = await retention_db.repositories(b.db, policy.project_id)
    found = [Repository(r["id"], r["name"]) for r in rows]
    return [r for r in found if policy.applies_to(r.path)]


@dataclass
class ArtifactOutcome:
    digest: str
    tags: tuple[str, ...]
    outcome: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"digest": self.digest, "tags": list(self.tags)}
        found["outcome"] = self.outcome
        if self.detail:
            found["detail"] = self.detail
        return found


@dataclass
class RepositoryResult:
    repository: str
    dry_run: bool
    artifacts: list[ArtifactOutcome] = field(default_factory=list)
    stopped: bool = False

    @property
    def total(self) -> int:
        return len(self.artifacts)

    @property
    def deleted(self) -> int:
        return sum(a.outcome in (DELETED, WOULD_DELETE) for a in self.artifacts)

    @property
    def retained(self) -> int:
        """As Harbor counts: everything judged and not deleted (or, dry, not to be)."""
        return self.total - self.deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "dry_run": self.dry_run,
            "total": self.total,
            "retained": self.retained,
            "deleted": self.deleted,
            "stopped": self.stopped,
            "artifacts": [a.as_dict() for a in self.artifacts],
        }


@dataclass
class RetentionResult:
    policy_id: int
    dry_run: bool
    repositories: list[RepositoryResult] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return any(r.stopped for r in self.repositories)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "dry_run": self.dry_run,
            "repositories": len(self.repositories),
            "total": sum(r.total for r in self.repositories),
            "retained": sum(r.retained for r in self.repositories),
            "deleted": sum(r.deleted for r in self.repositories),
            "stopped": self.stopped,
        }


async def _never() -> bool:
    return False


async def _quiet(_: str) -> None:
    return None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "never"


async def apply_to_repository(
    b: Backends,
    policy: Policy,
    project: ProjectRef,
    repository: Repository,
    *,
    dry_run: bool,
    log: Log = _quiet,
    should_stop: ShouldStop = _never,
    now: datetime | None = None,
) -> RepositoryResult:
    """Judge one repository and delete (unless ``dry_run``) what no rule retains. Each
    artifact's outcome goes to ``log`` and into the result. A deletion is skipped when the
    artifact's tags changed since it was judged (a push raced with the run)."""
    result = RepositoryResult(repository.name, dry_run)
    # In tag mode each tag is a candidate of its own (its id, its times); what holds it is
    # remembered so that only an unmoved tag is removed.
    tag_holders: dict[int, int] = {}
    if policy.mode == TAG_MODE:
        tag_rows = await retention_tags.tag_candidates(b.db, repository.id)
        candidates = [
            Candidate(r["id"], r["digest"], (r["name"],), r["pushed_at"], r["pulled_at"])
            for r in tag_rows
        ]
        tag_holders = {r["id"]: r["artifact_id"] for r in tag_rows}
    else:
        rows = await retention_db.candidates(b.db, repository.id)
        candidates = [
            Candidate(r["id"], r["digest"], tuple(r["tags"]), r["pushed_at"], r["pulled_at"])
            for r in rows
        ]
    all_tags = {tag for c in candidates for tag in c.tags}
    protected = await immutable_tags(b.db, project.id, repository.name, all_tags)
    rules = {rule.id: rule for rule in policy.rules}
    verdicts = judge(policy.rules, repository.path, candidates, now or datetime.now(UTC), protected)
    judged = "tags" if policy.mode == TAG_MODE else "artifacts"
    await log(
        f"repository {repository.name}: {len(verdicts)} {judged}, "
        f"rules {[r.id for r in policy.rules if r.applies_to(repository.path)]}, dry_run={dry_run}"
    )
    for verdict in verdicts:
        c = verdict.candidate
        if verdict.delete and await should_stop():
            result.stopped = True
            await log("stop requested: the remaining artifacts are left alone")
            break
        if verdict.retained_by:
            outcome = ArtifactOutcome(
                c.digest,
                c.tags,
                RETAINED,
                ", ".join(rules[i].describe() for i in verdict.retained_by),
            )
        elif verdict.immutable:
            outcome = ArtifactOutcome(
                c.digest, c.tags, IMMUTABLE, f"kept: immutable tag {', '.join(verdict.immutable)}"
            )
        elif dry_run:
            outcome = ArtifactOutcome(c.digest, c.tags, WOULD_DELETE)
        elif policy.mode == TAG_MODE:
            outcome = await _delete_tag(b, project, repository, c, tag_holders[c.id])
        else:
            outcome = await _delete(b, project, repository, c)
        result.artifacts.append(outcome)
        await log(
            f"{outcome.outcome.upper():<13}{repository.name}@{c.digest} "
            f"tags={','.join(c.tags) or '<none>'} pushed={_when(c.pushed_at)} "
            f"pulled={_when(c.pulled_at)}" + (f" — {outcome.detail}" if outcome.detail else "")
        )
    await log(
        f"repository {repository.name}: total {result.total}, retained {result.retained}, "
        f"{'would delete' if dry_run else 'deleted'} {result.deleted}"
    )
    return result


async def _delete(
    b: Backends, project: ProjectRef, repository: Repository, c: Candidate
) -> ArtifactOutcome:
    now_tags = await retention_db.current_tags(b.db, c.id)
    if now_tags is None or tuple(now_tags) != c.tags:
        return ArtifactOutcome(c.digest, c.tags, SKIPPED, "changed while the run judged it")
    await remove_artifacts(b, project, [c.id])
    await b.audit.record(
        AuditEvent("delete", "artifact", f"{repository.name}@{c.digest}", "retention", project.id)
    )
    return ArtifactOutcome(c.digest, c.tags, DELETED)


async def _delete_tag(
    b: Backends, project: ProjectRef, repository: Repository, c: Candidate, artifact_id: int
) -> ArtifactOutcome:
    (name,) = c.tags
    if not await retention_tags.delete_if_unmoved(b.db, c.id, name, artifact_id):
        return ArtifactOutcome(c.digest, c.tags, SKIPPED, "changed while the run judged it")
    await read_cache.changed(b.redis, project.name)
    await b.audit.record(
        AuditEvent("delete", "tag", f"{repository.name}:{name}", "retention", project.id)
    )
    return ArtifactOutcome(c.digest, c.tags, DELETED, "tag removed; the artifact stays")


# --- managing policies and executions ----------------------------------------------------------


def _owner(policy_id: int) -> str:
    return f"retention:{policy_id}"


async def _schedule(b: Backends, policy_id: int, cron_text: str) -> None:
    await job_service.set_schedule(
        b,
        EXECUTION_KIND,
        _owner(policy_id),
        "Custom" if cron_text else "None",
        cron_text or None,
        {"policy_id": policy_id},
    )


async def create_policy(
    b: Backends, actor: Principal, project: ProjectRef, spec: PolicySpec
) -> int:
    policy_id = await retention_db.create(
        b.db, project.id, [r.to_json() for r in spec.rules], trigger_json(spec.cron), spec.mode
    )
    if policy_id is None:
        raise PolicyExists(f"project {project.name} already has a retention policy")
    await _schedule(b, policy_id, spec.cron)
    await b.audit.record(
        AuditEvent("create", "retention", f"{project.name}:{policy_id}", actor.name, project.id)
    )
    return policy_id


async def update_policy(
    b: Backends, actor: Principal, project: ProjectRef, policy: Policy, spec: PolicySpec
) -> None:
    await retention_db.update(
        b.db, policy.id, [r.to_json() for r in spec.rules], trigger_json(spec.cron), spec.mode
    )
    if spec.cron != policy.cron:
        await _schedule(b, policy.id, spec.cron)
    await b.audit.record(
        AuditEvent("update", "retention", f"{project.name}:{policy.id}", actor.name, project.id)
    )


async def delete_policy(b: Backends, actor: Principal, project: ProjectRef, policy: Policy) -> None:
    """Delete the policy, its schedule and its executions; running ones are asked to stop
    first (their records go anyway)."""
    for execution_id in await retention_db.unfinished_executions(b.db, policy.id):
        await job_service.stop(b, execution_id)
    await retention_db.delete(b.db, policy.id)
    await b.audit.record(
        AuditEvent("delete", "retention", f"{project.name}:{policy.id}", actor.name, project.id)
    )


async def start_execution(b: Backends, policy: Policy, *, dry_run: bool) -> int:
    """Record a manual execution and hand it to the workers; its id."""
    return await job_service.submit(b, EXECUTION_KIND, {"policy_id": policy.id, "dry_run": dry_run})


async def list_executions(
    b: Backends, policy: Policy, query: ListQuery
) -> tuple[list[asyncpg.Record], int]:
    """The policy's executions, newest first."""
    return await retention_db.list_executions(b.db, policy.id, query.page_size, query.offset)


async def get_execution(b: Backends, policy: Policy, execution_id: int) -> asyncpg.Record:
    row = await retention_db.get_execution(b.db, policy.id, execution_id)
    if row is None:
        raise ResourceUnknown(f"retention execution {execution_id} not found")
    return row


async def get_task(b: Backends, execution: asyncpg.Record, task_id: int) -> asyncpg.Record:
    """One repository's task of the execution."""
    unknown = ResourceUnknown(f"retention task {task_id} not found")
    try:
        task = await job_service.get_job(b, task_id, TASK_KIND)
    except ResourceUnknown:
        raise unknown from None
    if task["parent_id"] != execution["id"]:
        raise unknown
    return task
