"""What a retention run reports: per artifact, per repository and for the whole run, counted
as Harbor counts (retained is everything judged and not deleted)."""

from __future__ import annotations

from registry.services.retention import (
    DELETED,
    IMMUTABLE,
    RETAINED,
    WOULD_DELETE,
    ArtifactOutcome,
    Policy,
    Repository,
    RepositoryResult,
    RetentionResult,
    Rule,
    Selector,
)


def test_scope_selectors_see_a_repository_without_its_project() -> None:
    assert Repository(1, "team/apps/web").path == "apps/web"
    assert Repository(2, "team").path == ""


def test_an_artifacts_outcome() -> None:
    kept = ArtifactOutcome("sha256:a", ("v1", "latest"), RETAINED, "rule 1 (retain the 1 latest)")
    assert kept.as_dict() == {
        "digest": "sha256:a",
        "tags": ["v1", "latest"],
        "outcome": "retained",
        "detail": "rule 1 (retain the 1 latest)",
    }
    assert ArtifactOutcome("sha256:b", (), DELETED).as_dict() == {
        "digest": "sha256:b",
        "tags": [],
        "outcome": "deleted",
    }


def test_a_repositorys_counts() -> None:
    result = RepositoryResult(
        "team/web",
        dry_run=False,
        artifacts=[
            ArtifactOutcome("sha256:a", ("v1",), RETAINED),
            ArtifactOutcome("sha256:b", ("v0",), DELETED),
            ArtifactOutcome("sha256:c", ("stable",), IMMUTABLE),
        ],
    )
    assert (result.total, result.retained, result.deleted) == (3, 2, 1)
    assert result.as_dict()["artifacts"][2]["outcome"] == "immutable"


def test_a_dry_run_counts_what_it_would_delete() -> None:
    result = RepositoryResult(
        "team/web",
        dry_run=True,
        artifacts=[
            ArtifactOutcome("sha256:a", ("v1",), WOULD_DELETE),
            ArtifactOutcome("sha256:b", ("v2",), RETAINED),
        ],
    )
    assert (result.retained, result.deleted) == (1, 1)


def test_the_run_sums_its_repositories_and_is_stopped_if_any_was() -> None:
    web = RepositoryResult(
        "team/web", False, [ArtifactOutcome("a", (), DELETED), ArtifactOutcome("b", (), RETAINED)]
    )
    api = RepositoryResult("team/api", False, [ArtifactOutcome("c", (), RETAINED)], stopped=True)
    run = RetentionResult(7, False, [web, api])
    assert run.as_dict() == {
        "policy_id": 7,
        "dry_run": False,
        "repositories": 2,
        "total": 3,
        "retained": 2,
        "deleted": 1,
        "stopped": True,
    }
    assert not RetentionResult(7, False, [web]).stopped


def test_a_policy_judges_a_repository_when_an_enabled_rule_applies() -> None:
    web_only = Rule(1, "always", repository_selectors=(Selector("repoMatches", "web"),))
    not_api = Rule(2, "always", repository_selectors=(Selector("repoExcludes", "api"),))
    policy = Policy(1, 10, (web_only,))
    assert policy.applies_to("web")
    assert not policy.applies_to("api")
    assert Policy(1, 10, (web_only, not_api)).applies_to("docs")
    disabled = Rule(3, "always", disabled=True)
    assert not Policy(1, 10, (disabled,)).applies_to("web")
    assert policy.to_json()["trigger"] == {"kind": "Schedule", "settings": {"cron": ""}}
    assert policy.to_json()["scope"] == {"level": "project", "ref": 10}
