"""Plots drawn on the server as SVG (no script, no inline style): a horizontal bar chart and a
grouped column chart over days. Text is escaped; sizes are in the SVG's own units and the
stylesheet scales the drawing to its box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

COLORS = ("#0b5cad", "#e07b00", "#147d3f", "#7a4fc4")


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    caption: str  # the value as people read it ("1.2 GiB")


def bar_chart(title: str, bars: Sequence[Bar], *, width: int = 520) -> Markup:
    row, label_width, pad = 26, 150, 8
    height = max(1, len(bars)) * row + 2 * pad
    peak = max((b.value for b in bars), default=0) or 1
    span = width - label_width - 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not bars:
        parts.append(f'<text x="{pad}" y="{pad + 14}">Nothing stored yet</text>')
    for index, bar in enumerate(bars):
        y = pad + index * row
        length = max(1.0, span * bar.value / peak) if bar.value else 0.0
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 16}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="16" rx="3" '
            f'fill="{COLORS[0]}"><title>{escape(bar.label)}: {escape(bar.caption)}</title></rect>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 16}">{escape(bar.caption)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every piece of text above is escaped


def column_chart(
    title: str,
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 560,
    height: int = 220,
) -> Markup:
    """Columns per day, one colour per series, with a legend and a y-axis maximum."""
    left, bottom, top = 34, 28, 24
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((v for _, values in series for v in values), default=0) or 1
    slot = plot_w / max(1, len(days))
    column = max(2.0, (slot - 4) / max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
        'stroke="#b9c5d1"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for s_index, (name, _) in enumerate(series):
        x = left + s_index * 90
        parts.append(
            f'<rect x="{x}" y="4" width="10" height="10" fill="{COLORS[s_index % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="13">{escape(name)}</text>'
        )
    for d_index, day in enumerate(days):
        x0 = left + d_index * slot + 2
        for s_index, (name, values) in enumerate(series):
            value = values[d_index]
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + s_index * column:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{column - 1:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[s_index % len(COLORS)]}"><title>{escape(day)} '
                f"{escape(name)}: {value}</title></rect>"
            )
        if d_index % max(1, len(days) // 7) == 0:
            parts.append(
                f'<text x="{x0 + slot / 2 - 2:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{escape(day[5:])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every piece of text above is escaped
