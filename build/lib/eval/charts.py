"""Inline SVG charts for the HTML report: no plotting library, nothing to download."""

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#1f5fa8", "#d9822b", "#3c8d5a", "#a83232")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def bar_chart(
    values: Sequence[tuple[str, float | None]], title: str, maximum: float = 1.0, width: int = 760
) -> str:
    """Horizontal bars, one per (label, value); a missing value is shown as « n/a »."""
    label_w, row_h, top = 340, 24, 30
    plot_w = width - label_w - 50
    height = top + row_h * len(values) + 10
    parts = [
        _open(width, height, title),
        f'<text x="0" y="16" {_FONT} font-weight="bold">{escape(title)}</text>',
    ]
    for row, (label, value) in enumerate(values):
        y = top + row * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{row_h - 8}" '
            'fill="#eef1f5"/>'
        )
        if value is None:
            parts.append(f'<text x="{label_w + 6}" y="{y + 15}" {_FONT} fill="#777">n/a</text>')
            continue
        bar = max(0.0, min(value / maximum, 1.0)) * plot_w
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row_h - 8}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)} : {value:.3f}</title></rect>'
        )
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 15}" {_FONT}>{value:.2f}</text>')
    return "".join(parts) + "</svg>"


def histogram(
    series: Mapping[str, Sequence[float]],
    title: str,
    unit: str = "",
    bins: int = 12,
    width: int = 760,
    height: int = 220,
) -> str:
    """Overlaid histograms sharing one set of bins, one colour per series."""
    values = [v for vs in series.values() for v in vs]
    parts = [
        _open(width, height, title),
        f'<text x="0" y="16" {_FONT} font-weight="bold">{escape(title)}</text>',
    ]
    if not values:
        parts.append(f'<text x="0" y="50" {_FONT} fill="#777">aucune donnée</text>')
        return "".join(parts) + "</svg>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = {
        name: [sum(1 for v in vs if _bin(v, low, span, bins) == b) for b in range(bins)]
        for name, vs in series.items()
    }
    tallest = max(max(c) for c in counts.values()) or 1
    left, top, bottom = 40, 40, 30
    plot_w, plot_h = width - left - 40, height - top - bottom
    slot = plot_w / bins
    bar_w = slot / max(len(series), 1)
    for index, (name, binned) in enumerate(counts.items()):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{left + 150 * index}" y="24" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + 150 * index + 14}" y="33" {_FONT}>'
            f"{escape(name)} ({len(series[name])})</text>"
        )
        for b, count in enumerate(binned):
            h = count / tallest * plot_h
            x = left + b * slot + index * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                f'height="{h:.1f}" fill="{colour}" opacity="0.85"><title>'
                f"{escape(name)} : {count}</title></rect>"
            )
    for b in range(0, bins + 1, max(1, bins // 6)):
        x = left + b * slot
        parts.append(
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" {_FONT}>'
            f"{low + span * b / bins:.2f}{escape(unit)}</text>"
        )
    parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {_FONT}>{tallest}</text>')
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}" stroke="#444"/>'
    )
    return "".join(parts) + "</svg>"


def _bin(value: float, low: float, span: float, bins: int) -> int:
    return min(int((value - low) / span * bins), bins - 1)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )
