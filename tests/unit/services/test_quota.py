"""How quotas quote sizes to people (quota errors, quota webhooks, pages)."""

from __future__ import annotations

import pytest

from registry.services.quota import human_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (10 * 1024**2, "10.0 MiB"),
        (5 * 1024**3 + 512 * 1024**2, "5.5 GiB"),
        (3 * 1024**4, "3.0 TiB"),
        (2048 * 1024**4, "2.0 PiB"),
        # Pebibytes are the largest unit.
        (3000 * 1024**5, "3000.0 PiB"),
    ],
)
def test_sizes_are_quoted_in_binary_units(size: int, shown: str) -> None:
    assert human_size(size) == shown
