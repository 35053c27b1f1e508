from __future__ import annotations

import pytest

from registry.scanners import cvss


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L", 3.7),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_v3_base_scores(vector: str, score: float) -> None:
    assert cvss.v3_base_score(vector) == score


def test_v2_base_score_and_bad_vectors() -> None:
    assert cvss.v2_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5
    assert cvss.v3_base_score("CVSS:3.1/AV:X") is None
    assert cvss.v2_base_score("nonsense") is None


def test_severity_names_and_order() -> None:
    assert [cvss.severity_of_score(s) for s in (9.8, 7.0, 4.0, 0.1, 0.0)] == [
        "Critical",
        "High",
        "Medium",
        "Low",
        "Negligible",
    ]
    assert cvss.severity_of_name("MODERATE") == "Medium"
    assert cvss.worst(["Low", "Critical", "Medium"]) == "Critical"
    assert cvss.rank("High") > cvss.rank("Medium") > cvss.rank("Unknown")
