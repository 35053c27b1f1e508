from __future__ import annotations

import pytest

from registry.portal.formatting import human_size, parse_size, short_digest


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("", -1),
        ("-1", -1),
        ("1024", 1024),
        ("10 GiB", 10 * 1024**3),
        ("10GB", 10 * 1024**3),
        ("1.5 MiB", int(1.5 * 1024**2)),
        ("2t", 2 * 1024**4),
    ],
)
def test_storage_limits_read_as_people_type_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["ten", "-5", "1 XB", "GiB"])
def test_nonsense_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="storage limit"):
        parse_size(text)


def test_sizes_and_digests_read_short() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(None) == "—"
    assert short_digest("sha256:" + "a" * 64) == "sha256:aaaaaaaaaaaa"
