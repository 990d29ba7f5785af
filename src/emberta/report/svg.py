"""Charts as inline SVG strings for the HTML report: grouped bars, a labelled scatter and line series, with
linear or log-2 axes. No library, no network; every text is HTML-escaped, so a model called `<script>` is
shown as text."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

# Okabe-Ito, readable by colour-blind readers
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
WIDTH, LEFT, RIGHT, TOP = 560, 56, 16, 28
PLOT_BOTTOM = 250  # the plot area's lower edge; tick labels, the x label and the legend rows come below it
X_LABEL_Y, LEGEND_Y, LEGEND_ROW = 284, 294, 14


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass(frozen=True)
class Axis:
    """A value range drawn onto a pixel range, linear or log base 2."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        f = (lambda v: math.log2(v)) if self.log else (lambda v: v)
        lo, hi = f(self.low), f(self.high)
        share = 0.5 if hi == lo else (f(value) - lo) / (hi - lo)
        return self.start + share * (self.end - self.start)

    def ticks(self) -> list[float]:
        if self.log:
            return [2.0**e for e in range(math.floor(math.log2(self.low)), math.ceil(math.log2(self.high)) + 1)]
        return nice_ticks(self.low, self.high)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= m * step)
    first = math.floor(low / step) * step
    return [round(first + i * step, 10) for i in range(math.ceil((high - first) / step) + 1)]


def padded(values: list[float], *, zero: bool = False, log: bool = False) -> tuple[float, float]:
    """A range around `values` with a margin (from 0 when `zero`; powers of two when `log`)."""
    low, high = min(values), max(values)
    if log:
        return 2.0 ** math.floor(math.log2(low)), 2.0 ** math.ceil(math.log2(high) + 1e-9)
    if zero:
        low, high = min(0.0, low), max(0.0, high)
    margin = (high - low) * 0.08 or max(abs(high) * 0.05, 1.0)
    return (low if zero and low == 0 else low - margin), (high if zero and high == 0 else high + margin)


def _frame(title: str, x_label: str, y_label: str, body: list[str], legend: list[str] | None = None) -> str:
    """The SVG element: title, body, axis labels and the legend rows, as high as they need."""
    keys, rows = _legend(legend or [])
    height = LEGEND_Y + LEGEND_ROW * rows + 4 if rows else X_LABEL_Y + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title, quote=True)}">',
        f'<text x="{WIDTH / 2}" y="16" class="title" text-anchor="middle">{escape(title)}</text>',
        *body,
        *keys,
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{X_LABEL_Y}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="14" y="{(TOP + PLOT_BOTTOM) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + PLOT_BOTTOM) / 2})">{escape(y_label)}</text>',
        "</svg>",
    ]
    return "\n".join(parts)


def _y_axis(y: Axis) -> list[str]:
    out = []
    for tick in y.ticks():
        if y.low - 1e-9 <= tick <= y.high + 1e-9:
            py = y(tick)
            out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>')
            out.append(f'<text x="{LEFT - 4}" y="{py + 4:.1f}" text-anchor="end">{_num(tick)}</text>')
    return out


def _x_axis(x: Axis) -> list[str]:
    out = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}" class="axis"/>']
    for tick in x.ticks():
        if x.low - 1e-9 <= tick <= x.high + 1e-9:
            px = x(tick)
            out.append(f'<text x="{px:.1f}" y="{PLOT_BOTTOM + 14}" text-anchor="middle">{_num(tick)}</text>')
    return out


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:g}"


def bar_chart(title: str, groups: list[str], series: list[tuple[str, list[float | None]]], y_label: str) -> str:
    """Grouped bars: one group per entry of `groups` (e.g. the tasks of a type), one bar per series (a model)
    in each, missing values left out."""
    values = [v for _, vs in series for v in vs if v is not None] or [0.0]
    y = Axis(*padded(values, zero=True), PLOT_BOTTOM, TOP)
    body = _y_axis(y)
    group_width = (WIDTH - LEFT - RIGHT) / max(len(groups), 1)
    bar = group_width * 0.8 / max(len(series), 1)
    for g, group in enumerate(groups):
        gx = LEFT + g * group_width + group_width * 0.1
        for s, (label, vs) in enumerate(series):
            if vs[g] is None:
                continue
            top, base = sorted((y(vs[g]), y(0.0)))
            body.append(f'<rect x="{gx + s * bar:.1f}" y="{top:.1f}" width="{bar * 0.92:.1f}" '
                        f'height="{max(base - top, 0.5):.1f}" fill="{colour(s)}"><title>{escape(label)}: '
                        f'{vs[g]:.2f}</title></rect>')  # fmt: skip
        body.append(f'<text x="{gx + group_width * 0.4:.1f}" y="{PLOT_BOTTOM + 14}" text-anchor="middle">'
                    f"{escape(_short(group, int(group_width / 6)))}</text>")  # fmt: skip
    body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" class="axis"/>')
    return _frame(title, "", y_label, body, [s[0] for s in series])


def scatter(title: str, points: list[tuple[str, float, float]], x_label: str, y_label: str, *,
            log_x: bool = False) -> str:  # fmt: skip
    """One labelled point per (label, x, y)."""
    x = Axis(*padded([p[1] for p in points], log=log_x), LEFT, WIDTH - RIGHT, log=log_x)
    y = Axis(*padded([p[2] for p in points]), PLOT_BOTTOM, TOP)
    body = _y_axis(y) + _x_axis(x)
    for i, (label, px, py) in enumerate(points):
        body.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="5" fill="{colour(i)}"><title>'
                    f"{escape(label)}: {px:,.4g}, {py:.2f}</title></circle>")  # fmt: skip
        right = x(px) > (LEFT + WIDTH) / 2  # name the point on the side with room
        body.append(f'<text x="{x(px) + (-7 if right else 7):.1f}" y="{y(py) - 6:.1f}" class="point" '
                    f'text-anchor="{"end" if right else "start"}">{escape(_short(label, 28))}</text>')  # fmt: skip
    return _frame(title, x_label, y_label, body)


def line_chart(title: str, series: list[tuple[str, list[tuple[float, float, str]]]], x_label: str, y_label: str,
               *, log_x: bool = False) -> str:  # fmt: skip
    """Lines through (x, y, point label) per series, points labelled when the label is not empty."""
    xs = [p[0] for _, ps in series for p in ps] or [1.0]
    ys = [p[1] for _, ps in series for p in ps] or [0.0]
    x = Axis(*padded(xs, log=log_x), LEFT, WIDTH - RIGHT, log=log_x)
    y = Axis(*padded(ys), PLOT_BOTTOM, TOP)
    body = _y_axis(y) + _x_axis(x)
    for s, (label, points) in enumerate(series):
        ordered = sorted(points)
        path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py, _ in ordered)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour(s)}" stroke-width="1.5">'
                    f"<title>{escape(label)}</title></polyline>")  # fmt: skip
        for px, py, name in ordered if len(ordered) <= 40 else []:
            body.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{colour(s)}"><title>'
                        f"{escape(name or label)}: {px:g}, {py:.3f}</title></circle>")  # fmt: skip
            if name:
                body.append(f'<text x="{x(px) + 4:.1f}" y="{y(py) - 4:.1f}" class="point">{escape(name)}</text>')
    return _frame(title, x_label, y_label, body, [s[0] for s in series])


def _legend(labels: list[str]) -> tuple[list[str], int]:
    """The legend's swatches and names, wrapped into rows under the plot; returns (elements, rows)."""
    out, x, row = [], LEFT, 0
    for i, label in enumerate(labels):
        text = _short(label, 24)
        width = 22 + 6 * len(text)
        if x + width > WIDTH and x > LEFT:
            x, row = LEFT, row + 1
        top = LEGEND_Y + LEGEND_ROW * row
        out.append(f'<rect x="{x}" y="{top}" width="10" height="10" fill="{colour(i)}"/>')
        out.append(f'<text x="{x + 13}" y="{top + 9}" class="legend">{escape(text)}</text>')
        x += width
    return out, (row + 1 if labels else 0)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= max(limit, 4) else text[: max(limit, 4) - 1] + "…"
