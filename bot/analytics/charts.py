"""Charts of the CX metrics as inline SVG, drawn on the server by pure functions.

No chart library and no script: the review page's Content-Security-Policy runs only its own
nonce'd script, and a chart that is plain markup is readable without any. Each function takes
labels (one per group: day, week, stage or department) and named series of values, and
returns one ``<svg>`` element with a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``),
axes with ticks, a legend, and a ``<title>`` on every bar and point for its exact value.
Colours are the Okabe-Ito palette, told apart with colour blindness too. Only presentation
attributes are used, never ``style=``, which the page's policy would refuse; class names all
start with ``chart-``, so the page's style sheet (``.bar`` is its header) never reaches in.

Values are in the units of the metrics table (bot/analytics/metrics.py): a "rate" is a fraction
drawn as a percentage, a "score" a mean of 1-5, a "count" or "minutes" a plain number; None
is "nothing to measure" and leaves a gap. Every text is escaped, so a department or stage
name from the data can never become markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 600, 250
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 40, 34  # room for y ticks, legend and x labels
LEGEND_ROW = 16
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
MUTED, GRID, INK = "#666", "#e3e3e3", "#333"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#555555")
KINDS = ("count", "rate", "score", "minutes")
MAX_LABEL_CHARS = 14
NO_DATA = "No data in this window"


@dataclass(frozen=True)
class Series:
    """One named line or set of bars: a value (or None) per label, in the labels' order."""

    name: str
    values: Sequence[float | None]
    color: str | None = None  # None: the palette's next colour


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    kind: str = "count",
    stacked: bool = False,
    desc: str | None = None,
) -> str:
    """Bars per label: one per series side by side, or ``stacked`` into one column.

    Stacking adds the series up (counts of parts of a whole); side by side suits means and
    rates per stage or department, which do not add up. A count of 0 draws nothing; a rate
    of 0% is a measurement, drawn as a hairline on the axis (with its tooltip).
    """
    frame = _Frame(title, labels, series, chart_id, kind, desc)
    zero_is_data = kind == "rate" and not stacked
    if zero_is_data:
        frame.has_data = any(v is not None for vs in frame.values for v in vs)
    if stacked:
        tops = [sum(v or 0 for v in column) for column in zip(*frame.values, strict=True)]
        frame.scale(max(tops, default=0))
    else:
        frame.scale(max((v for vs in frame.values for v in vs if v is not None), default=0))
    parts = []
    band = frame.band
    if stacked:
        width = band * 0.7
        for i, label in enumerate(labels):
            base = 0.0
            x = frame.x(i) - width / 2
            for s, values in zip(frame.series, frame.values, strict=True):
                value = values[i]
                if not value:
                    continue  # nothing to draw; the tooltip would say 0 of nothing
                y_top, y_base = frame.y(base + value), frame.y(base)
                parts.append(_bar(x, y_top, width, y_base - y_top, s, label, value, kind))
                base += value
    else:
        count = max(len(frame.series), 1)
        width = band * 0.8 / count
        for i, label in enumerate(labels):
            start = frame.x(i) - band * 0.4
            for k, (s, values) in enumerate(zip(frame.series, frame.values, strict=True)):
                value = values[i]
                if value is None or (value == 0 and not zero_is_data):
                    continue
                y_top = frame.y(value)
                parts.append(
                    _bar(start + k * width, y_top, width, frame.y(0) - y_top, s, label, value, kind)
                )
    return frame.svg("".join(parts), "bar")


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    chart_id: str,
    kind: str = "rate",
    desc: str | None = None,
) -> str:
    """Lines over the labels (days or weeks), a dot on every value; None breaks the line."""
    frame = _Frame(title, labels, series, chart_id, kind, desc)
    frame.scale(max((v for vs in frame.values for v in vs if v is not None), default=0))
    frame.has_data = any(v is not None for vs in frame.values for v in vs)  # 0% is a value
    parts = []
    for s, values in zip(frame.series, frame.values, strict=True):
        path, dots, pen_down = [], [], False
        for i, value in enumerate(values):
            if value is None:
                pen_down = False
                continue
            x, y = frame.x(i), frame.y(value)
            path.append(f"{'L' if pen_down else 'M'}{_n(x)} {_n(y)}")
            pen_down = True
            tip = escape(f"{labels[i]} · {s.name}: {format_value(value, kind)}")
            dots.append(
                f"<circle class='chart-point' cx='{_n(x)}' cy='{_n(y)}' r='{_n(frame.dot)}' "
                f"fill='{s.color}'><title>{tip}</title></circle>"
            )
        if len(path) > 1:
            parts.append(
                f"<path d='{' '.join(path)}' fill='none' stroke='{s.color}' stroke-width='2' "
                "stroke-linejoin='round' stroke-linecap='round'/>"
            )
        parts.append("".join(dots))
    return frame.svg("".join(parts), "line")


def format_value(value: float, kind: str) -> str:
    """A value as a tooltip or a tick says it: 25%, 4.5, 1,200, 12.5 min."""
    if kind == "rate":
        return f"{100 * value:.1f}%".replace(".0%", "%")
    if kind == "score":
        return f"{value:.2f}"
    if kind == "minutes":
        return f"{value:,.1f} min"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


class _Frame:
    """What both kinds of chart share: the plotting area, the scales, the axes, the legend."""

    def __init__(self, title, labels, series, chart_id, kind, desc):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        for s in series:
            if len(s.values) != len(labels):
                raise ValueError(
                    f"series {s.name!r} has {len(s.values)} values for {len(labels)} labels"
                )
        self.title, self.labels, self.kind, self.desc = title, list(labels), kind, desc
        self.id = _safe_id(chart_id)
        self.series = [
            Series(s.name, s.values, s.color or PALETTE[i % len(PALETTE)])
            for i, s in enumerate(series)
        ]
        self.values = [[_number(v) for v in s.values] for s in series]
        self.legend, legend_rows = _legend(self.series)
        self.top = TOP + (legend_rows - 1) * LEGEND_ROW
        self.plot_w = WIDTH - LEFT - RIGHT
        self.plot_h = HEIGHT - self.top - BOTTOM
        self.band = self.plot_w / max(len(self.labels), 1)
        self.dot = max(1.5, min(4.0, self.band / 4))
        self.has_data = any(v not in (None, 0) for vs in self.values for v in vs)
        self.high, self.ticks = 1.0, [0.0, 1.0]

    def scale(self, highest: float) -> None:
        """The y axis: 0-100% for rates, 0-5 for scores, else up to a round number."""
        if self.kind == "rate":
            self.high, step = 1.0, 0.25
        elif self.kind == "score":
            self.high, step = 5.0, 1.0
        else:
            step = _nice_step(highest / 4) if highest > 0 else 1.0
            if self.kind == "count":
                step = max(step, 1.0)
            self.high = max(step * math.ceil(highest / step), step)
        self.ticks = [step * k for k in range(round(self.high / step) + 1)]

    def x(self, i: int) -> float:
        return LEFT + self.band * (i + 0.5)

    def y(self, value: float) -> float:
        return self.top + self.plot_h * (1 - min(value, self.high) / self.high)

    def svg(self, marks: str, shape: str) -> str:
        title = escape(self.title)
        desc = escape(self.desc or self._description())
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' class='chart chart--{shape}' "
            f"id='{self.id}' viewBox='0 0 {WIDTH} {HEIGHT}' role='img' "
            f"aria-labelledby='{self.id}-title {self.id}-desc' "
            f"font-family=\"{FONT}\" font-size='12' fill='{INK}'>"
            f"<title id='{self.id}-title'>{title}</title><desc id='{self.id}-desc'>{desc}</desc>"
            f"{self._y_axis()}{self._x_axis()}<g class='chart-marks'>{marks}</g>{self.legend}"
            + ("" if self.has_data else self._empty())
            + "</svg>"
        )

    def _description(self) -> str:
        names = ", ".join(s.name for s in self.series) or "nothing"
        if not self.labels:
            return f"{names}: {NO_DATA.lower()}."
        span = self.labels[0] if len(self.labels) == 1 else f"{self.labels[0]} to {self.labels[-1]}"
        return f"{names} for {span} ({len(self.labels)} groups); the table below has the numbers."

    def _y_axis(self) -> str:
        out = []
        left, right = LEFT, WIDTH - RIGHT
        for tick in self.ticks:
            y = _n(self.y(tick))
            out.append(
                f"<line x1='{left}' x2='{right}' y1='{y}' y2='{y}' stroke='{GRID}'/>"
                f"<text x='{left - 6}' y='{y}' text-anchor='end' dominant-baseline='middle' "
                f"fill='{MUTED}'>{escape(_tick(tick, self.kind))}</text>"
            )
        return f"<g class='chart-y-axis'>{''.join(out)}</g>"

    def _x_axis(self) -> str:
        baseline = _n(self.y(0))
        out = [
            f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{baseline}' y2='{baseline}' stroke='{MUTED}'/>"
        ]
        # Every label when they fit, else every k-th: 90 days show about 8 dates.
        fit = max(1, int(self.plot_w // max(7 * _longest(self.labels) + 10, 30)))
        every = math.ceil(len(self.labels) / fit) if self.labels else 1
        for i, label in enumerate(self.labels):
            if i % every:
                continue
            shown = label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"
            out.append(
                f"<text x='{_n(self.x(i))}' y='{HEIGHT - BOTTOM + 16}' text-anchor='middle' "
                f"fill='{MUTED}'>{escape(shown)}"
                + (f"<title>{escape(label)}</title>" if shown != label else "")
                + "</text>"
            )
        return f"<g class='chart-x-axis'>{''.join(out)}</g>"

    def _empty(self) -> str:
        return (
            f"<text class='chart-no-data' x='{_n(LEFT + self.plot_w / 2)}' "
            f"y='{_n(self.top + self.plot_h / 2)}' text-anchor='middle' fill='{MUTED}' "
            f"font-size='13'>{escape(NO_DATA)}</text>"
        )


def _legend(series: Sequence[Series]) -> tuple[str, int]:
    """A swatch and the name of each series, in rows across the top; (markup, rows)."""
    items: list[str] = []
    x: float = LEFT
    row = 0
    for s in series:
        width = 18 + 6.5 * len(s.name) + 14  # swatch, text (estimated), gap
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, row = LEFT, row + 1
        y = 12 + row * LEGEND_ROW
        items.append(
            f"<g class='chart-legend-item'><rect x='{_n(x)}' y='{y - 8}' width='12' height='10' "
            f"rx='2' fill='{s.color}'/><text x='{_n(x + 17)}' y='{y}' fill='{INK}'>"
            f"{escape(s.name)}</text></g>"
        )
        x += width
    return f"<g class='chart-legend'>{''.join(items)}</g>", row + 1


def _bar(x, y, width, height, s: Series, label: str, value: float, kind: str) -> str:
    tip = escape(f"{label} · {s.name}: {format_value(value, kind)}")
    return (
        f"<rect class='chart-bar' x='{_n(x)}' y='{_n(y)}' width='{_n(max(width, 0.5))}' "
        f"height='{_n(max(height, 0.5))}' fill='{s.color}'><title>{tip}</title></rect>"
    )


def _tick(value: float, kind: str) -> str:
    if kind == "rate":
        return f"{100 * value:.0f}%"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least ``raw``."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def _number(value) -> float | None:
    """A value to draw: None (or NaN) stays a gap; negatives are drawn as 0."""
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return max(number, 0.0)


def _longest(labels: Sequence[str]) -> int:
    return min(max((len(label) for label in labels), default=1), MAX_LABEL_CHARS)


def _n(value: float) -> str:
    """A coordinate to a tenth of a unit: finer than a pixel, and the SVG stays small."""
    return f"{value:.1f}"


def _safe_id(text: str) -> str:
    """An element id that is one token, whatever it was made from."""
    token = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    return token if token[:1].isalpha() else f"chart-{token}"


__all__ = ["KINDS", "NO_DATA", "PALETTE", "Series", "bar_chart", "format_value", "line_chart"]
