"""Line plots as inline SVG, drawn by our own code (no plotting library).

``line_plot`` takes series of points and returns an ``<svg>`` element as text: axes with round
tick values, one ``<path class="series">`` per series whose ``d`` holds one ``M``/``L`` command per
point (a NaN or missing value breaks the line), a legend and optional labelled markers (the worst
frames of a per-frame plot). A log-scale y axis suits loss curves.

>>> svg = line_plot([Series("psnr", [0, 1, 2], [20.0, 30.0, 35.0])], PlotSpec(title="PSNR"))
>>> svg.startswith("<svg") and svg.count(" L") == 2
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#393b79", "#000000",
)  # fmt: skip
"""Series colours, in order."""


@dataclass(frozen=True)
class Series:
    """One line: ``xs`` and ``ys`` of equal length (``None`` or NaN in ``ys`` leaves a gap)."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]


@dataclass(frozen=True)
class Marker:
    """A labelled point drawn over the lines (e.g. a worst frame)."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class PlotSpec:
    """How to draw a plot."""

    title: str = ""
    x_label: str = ""
    y_label: str = ""
    log_y: bool = False
    """Logarithmic y axis (only positive values are drawn)."""
    width: int = 400
    """Width of the plot area and its axes; a legend adds ``LEGEND_WIDTH``."""
    height: int = 260
    markers: tuple[Marker, ...] = field(default_factory=tuple)


_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 12, 28, 40
LEGEND_WIDTH = 170
"""Width added on the right for the legend (pixels)."""


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2 or 5 times a power of ten.

    >>> nice_ticks(0, 10)
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 12) + 0.0)
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten covering ``[low, high]`` (``low > 0``).

    >>> log_ticks(0.03, 20)
    [0.01, 0.1, 1.0, 10.0, 100.0]
    """
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return [10.0**e for e in range(first, last + 1)]


def format_tick(value: float) -> str:
    """A short label: ``1000`` -> ``"1k"``, ``0.001`` -> ``"0.001"``, ``2.5`` -> ``"2.5"``."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:.3g}"


def _finite(values: list[float | None], log: bool) -> list[float]:
    out = [v for v in values if v is not None and math.isfinite(v)]
    return [v for v in out if v > 0] if log else out


def _ok(y: float | None, log: bool) -> bool:
    return y is not None and math.isfinite(y) and (y > 0 or not log)


def line_plot(series: list[Series], spec: PlotSpec) -> str:
    """An ``<svg>`` line plot of ``series`` (see the module docstring); a plot with no drawable
    point says "no data yet"."""
    legend = LEGEND_WIDTH if any(s.name for s in series) else 0
    w, h = spec.width + legend, spec.height
    inner_w, inner_h = spec.width - _LEFT - _RIGHT, h - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(spec.title)}">',
        f'<text x="{w / 2:.1f}" y="16" text-anchor="middle" class="title">{escape(spec.title)}</text>',
    ]
    xs = _finite([x for s in series for x, y in zip(s.xs, s.ys, strict=True) if _ok(y, spec.log_y)], False)
    ys = _finite([y for s in series for y in s.ys], spec.log_y)
    if not xs or not ys:
        parts.append(f'<text x="{w / 2:.1f}" y="{h / 2:.1f}" text-anchor="middle">no data yet</text></svg>')
        return "".join(parts)
    x_ticks = nice_ticks(min(xs), max(xs))
    x_lo, x_hi = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs))
    if spec.log_y:
        y_ticks = log_ticks(min(ys), max(ys))
        y_lo, y_hi = math.log10(y_ticks[0]), math.log10(y_ticks[-1])
    else:
        y_ticks = nice_ticks(min(ys), max(ys))
        y_lo, y_hi = min(y_ticks[0], min(ys)), max(y_ticks[-1], max(ys))
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0

    def px(x: float) -> float:
        return _LEFT + (x - x_lo) / x_span * inner_w

    def py(y: float) -> float:
        value = math.log10(y) if spec.log_y else y
        return _TOP + inner_h - (value - y_lo) / y_span * inner_h

    for t in x_ticks:
        x = px(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_TOP + inner_h}" class="grid"/>'
            f'<text x="{x:.1f}" y="{_TOP + inner_h + 14}" text-anchor="middle">{format_tick(t)}</text>'
        )
    for t in y_ticks:
        y = py(t)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + inner_w}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{format_tick(t)}</text>'
        )
    parts.append(  # the frame over the grid lines
        f'<rect x="{_LEFT}" y="{_TOP}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#999"/>'
    )
    parts.append(
        f'<text x="{_LEFT + inner_w / 2:.1f}" y="{h - 6}" text-anchor="middle">{escape(spec.x_label)}</text>'
        f'<text transform="translate(12 {_TOP + inner_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{escape(spec.y_label)}</text>"
    )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        commands, pen_down = [], False
        for x, value in zip(s.xs, s.ys, strict=True):
            if value is None or not _ok(value, spec.log_y) or not math.isfinite(x):
                pen_down = False
                continue
            commands.append(f"{'L' if pen_down else 'M'}{px(x):.1f} {py(value):.1f}")
            pen_down = True
        parts.append(
            f'<path class="series" data-name="{escape(s.name)}" d="{" ".join(commands)}" '
            f'fill="none" stroke="{colour}" stroke-width="1.5"/>'
        )
        if sum(1 for c in commands if c.startswith("M")) == len(commands):  # lone points: show them
            for c in commands:
                cx, cy = c[1:].split(" ")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
        if legend:
            lx, ly = spec.width, _TOP + 8 + 14 * i
            parts.append(
                f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 16}" y2="{ly - 4}" '
                f'stroke="{colour}" stroke-width="2"/>'
                f'<text x="{lx + 20}" y="{ly}" class="legend">{escape(s.name)}</text>'
            )
    for m in spec.markers:
        if not _ok(m.y, spec.log_y):
            continue
        parts.append(
            f'<circle class="marker" cx="{px(m.x):.1f}" cy="{py(m.y):.1f}" r="3.5" '
            'fill="none" stroke="#d62728"/>'
            f'<text x="{px(m.x):.1f}" y="{py(m.y) + 15:.1f}" text-anchor="middle" class="marker-label">'
            f"{escape(m.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
