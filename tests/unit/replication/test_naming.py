"""Where replicated repositories land (Harbor's dest_namespace rules)."""

from __future__ import annotations

import pytest

from registry.replication.naming import (
    NamingInvalid,
    check_path_components,
    destination_repository,
)


@pytest.mark.parametrize(
    ("source", "namespace", "count", "expected"),
    [
        ("library/alpine", "", -1, "library/alpine"),
        ("a/b/c", "", 2, "a/b/c"),
        ("a/b/c", "mirror", -1, "mirror/c"),
        ("a/b/c", "mirror", 0, "mirror/a/b/c"),
        ("a/b/c", "mirror", 1, "mirror/b/c"),
        ("a/b/c", "mirror", 2, "mirror/c"),
        ("a/b/c", "mirror", 9, "mirror/c"),
        ("alpine", "mirror", 1, "mirror/alpine"),
    ],
)
def test_destination_repository(source: str, namespace: str, count: int, expected: str) -> None:
    assert destination_repository(source, namespace, count) == expected


def test_path_component_rules() -> None:
    check_path_components("a/b", "ONLY_TWO")
    check_path_components("a/b/c", "AT_LEAST_TWO")
    check_path_components("a", "")
    with pytest.raises(NamingInvalid):
        check_path_components("a/b/c", "ONLY_TWO")
    with pytest.raises(NamingInvalid):
        check_path_components("a", "AT_LEAST_TWO")
