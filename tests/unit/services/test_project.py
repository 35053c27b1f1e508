"""Projects, the rules that need no database: the repository name rule as /v2/ and the
management API apply it, and project metadata as Harbor's API sends it (known keys, string
values, flags)."""

from __future__ import annotations

import pytest

from registry.services.errors import NameInvalid, ProjectInvalid
from registry.services.project import METADATA_KEYS, check_metadata, check_repository_name


def test_a_valid_repository_name_passes() -> None:
    check_repository_name("library/alpine")
    check_repository_name("team/apps/web")


@pytest.mark.parametrize("name", ["alpine", "Library/alpine", "library/", "library/alpine\n"])
def test_an_invalid_name_is_refused_with_the_name_as_detail(name: str) -> None:
    with pytest.raises(NameInvalid, match="lower-case components separated by '/'") as refused:
        check_repository_name(name)
    assert refused.value.detail == {"name": name}


def test_flags_are_stored_as_lower_case_strings() -> None:
    assert check_metadata(
        {"public": True, "auto_scan": "FALSE", "prevent_vul": "True", "severity": "High"}
    ) == {"public": "true", "auto_scan": "false", "prevent_vul": "true", "severity": "High"}
    assert check_metadata({}) == {}


def test_values_that_are_not_flags_are_kept_as_given() -> None:
    assert check_metadata({"retention_id": "12", "proxy_speed_kb": "-1"}) == {
        "retention_id": "12",
        "proxy_speed_kb": "-1",
    }


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"visibility": "public"}, "unknown project metadata 'visibility'"),
        ({"public": 1}, "metadata public must be a string"),
        ({"retention_id": 12}, "metadata retention_id must be a string"),
        ({"public": "yes"}, 'metadata public must be "true" or "false"'),
        ({"enable_content_trust_cosign": ""}, 'must be "true" or "false"'),
    ],
)
def test_invalid_metadata_says_why(metadata: dict[str, object], reason: str) -> None:
    with pytest.raises(ProjectInvalid, match=reason):
        check_metadata(metadata)


@pytest.mark.parametrize(
    "key", sorted(METADATA_KEYS - {"severity", "retention_id", "proxy_speed_kb"})
)
def test_every_flag_takes_only_true_or_false(key: str) -> None:
    assert check_metadata({key: False}) == {key: "false"}
    with pytest.raises(ProjectInvalid, match=f"metadata {key} must be"):
        check_metadata({key: "maybe"})
