"""What a replication policy's filters select (name, tag with matches/excludes, labels)."""

from __future__ import annotations

from registry.replication.adapter import RemoteArtifact
from registry.services.replication_policy import Selection

SIG = "sha256-" + "cd" * 32 + ".sig"


def _selection(*filters: dict[str, object]) -> Selection:
    return Selection(tuple(filters))


def test_name_filter_is_doublestar_over_the_full_path() -> None:
    selection = _selection({"type": "name", "value": "library/**", "decoration": "matches"})
    assert selection.repository("library/a/b")
    assert not selection.repository("team/a")
    assert _selection().repository("anything/at/all")


def test_tag_filters_match_and_exclude_and_never_pass_accessory_tags() -> None:
    selection = _selection(
        {"type": "tag", "value": "v*", "decoration": "matches"},
        {"type": "tag", "value": "*-rc*", "decoration": "excludes"},
    )
    assert selection.tags(("v1", "v2-rc1", "latest", SIG)) == ["v1"]
    assert _selection().tags(("latest", SIG)) == ["latest"]


def test_label_filters() -> None:
    selection = _selection(
        {"type": "label", "value": ["prod"], "decoration": "matches"},
        {"type": "label", "value": ["broken"], "decoration": "excludes"},
    )
    digest = "sha256:" + "ef" * 32
    assert selection.artifact(RemoteArtifact(digest, ("1",), ("prod",))) == ["1"]
    assert selection.artifact(RemoteArtifact(digest, ("1",), ("prod", "broken"))) is None
    assert selection.artifact(RemoteArtifact(digest, ("1",), ())) is None
    # An artifact whose only tags are accessories is not selected on its own.
    assert _selection().artifact(RemoteArtifact(digest, (SIG,))) is None
