from __future__ import annotations

import re

from registry.portal.svg import Bar, bar_chart, column_chart


def test_bar_chart_escapes_labels_and_scales_to_the_largest() -> None:
    svg = str(bar_chart("Storage", [Bar("<team>", 100, "100 B"), Bar("b", 50, "50 B")]))
    assert "<team>" not in svg
    assert "&lt;team&gt;" in svg
    assert 'role="img"' in svg
    assert 'aria-label="Storage"' in svg
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1]


def test_column_chart_has_one_column_per_day_and_series() -> None:
    svg = str(
        column_chart("Activity", ["2026-01-01", "2026-01-02"], [("push", [1, 0]), ("pull", [3, 2])])
    )
    assert svg.count("<title>2026-01-0") == 4
    assert ">3</text>" in svg  # the y-axis names the peak
    assert "style=" not in svg  # the portal's CSP allows no inline style
