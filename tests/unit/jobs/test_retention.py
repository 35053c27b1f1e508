"""The TAG_RETENTION event a finished run sends, as Harbor words it."""

from __future__ import annotations

from registry.jobs.retention import _webhook_summary
from registry.services.retention import (
    DELETED,
    RETAINED,
    WOULD_DELETE,
    ArtifactOutcome,
    RepositoryResult,
    RetentionResult,
)


def test_the_event_lists_each_deleted_artifact_by_its_tags_or_digest() -> None:
    run = RetentionResult(
        7,
        False,
        [
            RepositoryResult(
                "team/web",
                False,
                [
                    ArtifactOutcome("sha256:a", ("v1", "old"), DELETED),
                    ArtifactOutcome("sha256:b", (), DELETED),
                    ArtifactOutcome("sha256:c", ("latest",), RETAINED),
                ],
            ),
            RepositoryResult("team/api", False, [ArtifactOutcome("sha256:d", ("x",), RETAINED)]),
        ],
    )
    assert _webhook_summary(7, run) == {
        "total": 4,
        "retained": 2,
        "retention_policy_id": 7,
        "result": "SUCCESS",
        "deleted_artifact": [
            {"type": "image", "status": "SUCCESS", "name_tag": "team/web:v1,old"},
            {"type": "image", "status": "SUCCESS", "name_tag": "team/web:sha256:b"},
        ],
    }


def test_what_a_dry_run_would_delete_is_not_reported_deleted() -> None:
    run = RetentionResult(
        7, True, [RepositoryResult("team/web", True, [ArtifactOutcome("a", ("v1",), WOULD_DELETE)])]
    )
    assert _webhook_summary(7, run)["deleted_artifact"] == []
